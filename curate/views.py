"""The four stage views, in TRL's dataset formats, built from the curated pool of traces.

- mid: every verified-correct trace of the pool as `messages` (packing is the trainer's job).
- sft: at most k correct traces per problem, shortest first, problems in the preferred pass-rate band first.
- dpo: per problem, pairs chosen = correct rollout, rejected = incorrect rollout of the same problem
  (Rollout DPO); each rollout in at most one pair; at most `dpo_max_pairs`; optional length matching.
- rl: prompts with gold answers whose teacher pass rate lies in a band; hard prompts repeated
  (reward rebalancing). Note the band uses the teacher's pass rate, the only one known before training.

Every row's user turn is the prompt the teacher answered (traces.prompt: system message, problem and
instruction as sent), never rebuilt: the student trains on what the teacher saw. A DPO pair needs one
prompt for both rollouts, an rl prompt one prompt across the problem's traces (else "mixed_prompts").

Each builder returns the view's rows and a Counter of drop reasons over its input, for the funnel.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass

import pyarrow as pa

from curate.config import ViewsConfig
from sampling import prompts

_MSG = pa.struct([("role", pa.string()), ("content", pa.string())])
_MESSAGES = pa.list_(_MSG)

SCHEMAS: dict[str, pa.Schema] = {
    "mid": pa.schema([("messages", _MESSAGES), ("problem_id", pa.string()), ("trace_id", pa.string())]),
    "sft": pa.schema([("messages", _MESSAGES), ("problem_id", pa.string()), ("trace_id", pa.string())]),
    "dpo": pa.schema(
        [
            ("prompt", _MESSAGES),
            ("chosen", _MESSAGES),
            ("rejected", _MESSAGES),
            ("problem_id", pa.string()),
            ("chosen_trace_id", pa.string()),
            ("rejected_trace_id", pa.string()),
        ]
    ),
    "rl": pa.schema(
        [
            ("prompt", _MESSAGES),
            ("answer", pa.string()),
            ("pass_rate", pa.float64()),
            ("problem_id", pa.string()),
            ("level", pa.int32()),
        ]
    ),
}


@dataclass(frozen=True)
class PoolTrace:
    """A trace that passed dedup and the filters, with its verdict."""

    trace_id: str
    problem_id: str
    sample_idx: int
    text: str  # the assistant turn
    length: int  # completion tokens (or words) for "shorter first"
    correct: bool
    status: str
    prompt: str = "[]"  # traces.prompt: the messages the teacher answered, as JSON


@dataclass(frozen=True)
class Problem:
    problem_id: str
    problem: str
    answer: str | None
    level: int | None
    pass_rate: float | None  # teacher's, over all verified traces; None when none was verified
    prompts: tuple[str, ...] = ()  # the distinct traces.prompt of its verified traces


def prompt_of(trace: PoolTrace) -> list[dict]:
    """The messages the teacher answered (system message included), as the trace recorded them."""
    return json.loads(trace.prompt)


def assistant_turn(trace: PoolTrace) -> list[dict]:
    return [{"role": "assistant", "content": trace.text}]


def _by_length(t: PoolTrace):
    return (t.length, t.sample_idx, t.trace_id)


def _by_sample(t: PoolTrace):
    return (t.sample_idx, t.trace_id)


def _grouped(pool: list[PoolTrace]) -> dict[str, list[PoolTrace]]:
    groups: dict[str, list[PoolTrace]] = defaultdict(list)
    for t in pool:
        groups[t.problem_id].append(t)
    return dict(sorted(groups.items()))


def _incorrect_reason(t: PoolTrace) -> str:
    return "incorrect" if t.status == "ok" else f"verdict:{t.status}"


def build_mid(
    pool: list[PoolTrace], problems: dict[str, Problem], cfg: ViewsConfig
) -> tuple[list[dict], Counter]:
    rows, drops = [], Counter()
    for pid, traces in _grouped(pool).items():
        for t in sorted(traces, key=_by_sample):
            if not t.correct:
                drops[_incorrect_reason(t)] += 1
                continue
            rows.append(
                {
                    "messages": prompt_of(t) + assistant_turn(t),
                    "problem_id": pid,
                    "trace_id": t.trace_id,
                }
            )
    return rows, drops


def _in_band(p: Problem, band: tuple[float, float]) -> bool:
    return p.pass_rate is not None and band[0] <= p.pass_rate <= band[1]


def build_sft(
    pool: list[PoolTrace], problems: dict[str, Problem], cfg: ViewsConfig
) -> tuple[list[dict], Counter]:
    """Input: the mid rows (correct traces). Chosen: per problem the k shortest, in-band problems first."""
    drops = Counter()
    ranked = []  # (sort key, trace)
    for pid, traces in _grouped([t for t in pool if t.correct]).items():
        in_band = _in_band(problems[pid], cfg.sft_band)
        if not in_band and not cfg.sft_outside_band:
            drops["outside_band"] += len(traces)
            continue
        ordered = sorted(traces, key=_by_length)
        drops["over_k"] += max(0, len(ordered) - cfg.sft_k)
        ranked += [((not in_band, rank, t.length, pid), t) for rank, t in enumerate(ordered[: cfg.sft_k])]
    ranked.sort(key=lambda kt: kt[0])
    if cfg.sft_max_rows is not None and len(ranked) > cfg.sft_max_rows:
        drops["over_max_rows"] += len(ranked) - cfg.sft_max_rows
        ranked = ranked[: cfg.sft_max_rows]
    chosen = sorted((t for _, t in ranked), key=lambda t: (t.problem_id, *_by_length(t)))
    rows = [
        {
            "messages": prompt_of(t) + assistant_turn(t),
            "problem_id": t.problem_id,
            "trace_id": t.trace_id,
        }
        for t in chosen
    ]
    return rows, drops


def pair_rollouts(
    correct: list[PoolTrace], incorrect: list[PoolTrace], cfg: ViewsConfig
) -> list[tuple[PoolTrace, PoolTrace]]:
    """Chosen in order shortest first (`dpo_chosen: sample`: in sample order, so the chosen side has the
    correct rollouts' own mix of lengths and styles); each takes the first unused rejected (by sample
    index), or with a length ratio set, the unused rejected closest in length within the ratio."""
    pairs: list[tuple[PoolTrace, PoolTrace]] = []
    unused = sorted(incorrect, key=_by_sample)
    for c in sorted(correct, key=_by_length if cfg.dpo_chosen == "shortest" else _by_sample):
        if len(pairs) >= cfg.dpo_max_pairs or not unused:
            break
        candidates = unused
        if cfg.dpo_length_ratio is not None:
            candidates = [r for r in unused if _ratio(c.length, r.length) <= cfg.dpo_length_ratio]
            candidates.sort(key=lambda r: abs(r.length - c.length))  # stable: sample order on ties
        if candidates:
            pairs.append((c, candidates[0]))
            unused.remove(candidates[0])
    return pairs


def _ratio(a: int, b: int) -> float:
    lo, hi = sorted((max(a, 1), max(b, 1)))
    return hi / lo


def build_dpo(
    pool: list[PoolTrace], problems: dict[str, Problem], cfg: ViewsConfig
) -> tuple[list[dict], Counter]:
    """Unit of the funnel: traces (each pair uses two). Rejected rollouts need a clean verdict ("ok")."""
    rows, drops = [], Counter()
    for pid, traces in _grouped(pool).items():
        drops.update(f"verdict:{t.status}" for t in traces if not t.correct and t.status != "ok")
        for prompt, same in _by_prompt([t for t in traces if t.correct or t.status == "ok"]):
            rows += _pairs_of(pid, prompt, same, cfg, drops)
    return rows, drops


def _by_prompt(traces: list[PoolTrace]) -> list[tuple[str, list[PoolTrace]]]:
    """Rollouts grouped by the prompt they answered: a pair compares two answers to one prompt."""
    groups: dict[str, list[PoolTrace]] = defaultdict(list)
    for t in traces:
        groups[t.prompt].append(t)
    return sorted(groups.items())


def _pairs_of(pid: str, prompt: str, traces: list[PoolTrace], cfg: ViewsConfig, drops: Counter) -> list[dict]:
    correct = [t for t in traces if t.correct]
    incorrect = [t for t in traces if not t.correct]
    if not correct or not incorrect:
        drops["no_incorrect" if correct else "no_correct"] += len(correct) + len(incorrect)
        return []
    pairs = pair_rollouts(correct, incorrect, cfg)
    left = len(correct) + len(incorrect) - 2 * len(pairs)
    drops["over_max_pairs" if len(pairs) >= cfg.dpo_max_pairs else "unpaired"] += left
    return [
        {
            "prompt": json.loads(prompt),
            "chosen": assistant_turn(c),
            "rejected": assistant_turn(r),
            "problem_id": pid,
            "chosen_trace_id": c.trace_id,
            "rejected_trace_id": r.trace_id,
        }
        for c, r in pairs
    ]


def build_rl(problems: list[Problem], cfg: ViewsConfig) -> tuple[list[dict], Counter]:
    """Unit of the funnel: problems (kept after dedup/decontam). Hard prompts appear rl_hard_repeat times."""
    rows, drops = [], Counter()
    lo, hi = cfg.rl_band
    for p in sorted(problems, key=lambda p: p.problem_id):
        reason = _rl_reason(p, lo, hi)
        if reason:
            drops[reason] += 1
            continue
        copies = cfg.rl_hard_repeat if p.pass_rate <= cfg.rl_hard_below else 1
        row = {
            "prompt": json.loads(p.prompts[0]),
            "answer": p.answer,
            "pass_rate": p.pass_rate,
            "problem_id": p.problem_id,
            "level": p.level,
        }
        rows += [row] * copies
    return rows, drops


def _rl_reason(p: Problem, lo: float, hi: float) -> str | None:
    if p.pass_rate is None:
        return "unverified"
    if len(p.prompts) != 1:  # runs asked it differently: no one prompt the pass rate belongs to
        return "mixed_prompts" if p.prompts else "unverified"
    if not (p.answer or "").strip():
        return "no_gold"
    if p.pass_rate > hi:
        return "too_easy"
    if p.pass_rate < lo:
        return "too_hard"
    return None


def to_table(view: str, rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=SCHEMAS[view])


def prompt_templates(view: str, table: pa.Table, problem_text: dict[str, str]) -> list[str]:
    """The distinct prompts of a view's rows with the problem replaced by `{problem}`: the provenance
    line "what the teacher was asked" of the view's card."""
    column = "messages" if view in ("mid", "sft") else "prompt"
    seen: set[str] = set()
    for messages, pid in zip(
        table.column(column).to_pylist(), table.column("problem_id").to_pylist(), strict=True
    ):
        asked = [m for m in messages if m["role"] != "assistant"]
        seen.add(prompts.prompt_template(asked, problem_text.get(pid, "")))
    return sorted(seen)
