"""Render the dataset card (README.md): YAML front matter via huggingface_hub's DatasetCardData, then
Markdown sections built from CardStats. Every section is a small function returning its lines."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
from huggingface_hub import DatasetCard, DatasetCardData

from data_cards.stats import CardStats, LengthSeries, ViewStats

VIEW_PURPOSE = {
    "mid": "distillation mid-training: every verified-correct, filtered teacher trace (causal LM, packable)",
    "sft": "distillation SFT: a high-quality subset of correct traces (at most k per problem, preferred band)",
    "dpo": "Rollout DPO: chosen = a verified-correct rollout, rejected = an incorrect one of the same problem",
    "rl": "RL (GRPO): prompts with gold answers in a pass-rate band, hard prompts oversampled",
}

COLUMN_DOC = {
    "messages": "chat turns: the user's problem + instruction, the assistant's `<think>…</think>` and answer",
    "prompt": "list with the user message (problem + instruction)",
    "chosen": "list with the assistant message of a verified-correct rollout",
    "rejected": "list with the assistant message of an incorrect rollout of the same problem",
    "answer": "gold answer (text), checked by the math verifier",
    "pass_rate": "share of the teacher's samples for this problem that were verified correct",
    "level": "difficulty level of the source problem",
    "problem_id": "stable hash of the normalised problem text (lineage into the lake's problems table)",
    "trace_id": "id of the teacher trace this row came from (lineage into traces/verdicts)",
    "chosen_trace_id": "trace id of the chosen rollout",
    "rejected_trace_id": "trace id of the rejected rollout",
}

SIZE_CATEGORIES = [
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
]


@dataclass
class CardLayout:
    """Where things live relative to the card, and how the snippets should refer to the dataset."""

    data_files: dict[str, list[str]]  # view -> paths or globs, relative to the card's folder
    plots: dict[str, str] = field(default_factory=dict)  # figure name -> relative path
    dataset_ref: str = "."  # what `load_dataset(...)` is given: a Hub repo id or a local folder
    on_hub: bool = False
    license: str = "apache-2.0"


def render(stats: CardStats, layout: CardLayout) -> DatasetCard:
    body = [
        *_summary(stats, layout),
        *_how_made(stats),
        *_statistics(stats, layout),
        *_decontamination(stats),
        *_schema(stats),
        *_how_to_load(stats, layout),
        *_limitations(stats),
    ]
    return DatasetCard(f"---\n{_card_data(stats, layout).to_yaml()}\n---\n\n" + "\n".join(body) + "\n")


def _card_data(stats: CardStats, layout: CardLayout) -> DatasetCardData:
    configs = [
        {"config_name": v.name, "data_files": [{"split": "train", "path": layout.data_files[v.name]}]}
        for v in stats.views
    ]
    return DatasetCardData(
        language="en",
        license=layout.license,
        task_categories=["text-generation"],
        size_categories=size_category(sum(v.rows for v in stats.views)),
        pretty_name="minireason distilled reasoning data (" + ", ".join(v.name for v in stats.views) + ")",
        tags=["math", "reasoning", "synthetic", "distillation", "minireason"],
        configs=configs,
    )


def size_category(rows: int) -> str:
    for bound, name in SIZE_CATEGORIES:
        if rows < bound:
            return name
    return "n>100M"


def table(header: list[str], rows: list[list]) -> list[str]:
    def cell(v) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows] + [""]


def _not_run(what: str, command: str) -> list[str]:
    return [f"_{what}: not run (run `{command}`)._", ""]


# -- sections ------------------------------------------------------------------------------------------


def _summary(stats: CardStats, layout: CardLayout) -> list[str]:
    lines = [
        "# minireason distilled reasoning data",
        "",
        "Teacher rollouts on math problems, verified by a math verifier and curated into the training sets of "
        "the four-stage recipe of *Phi-4-Mini-Reasoning* ([arXiv 2504.21233](https://arxiv.org/abs/2504.21233)): "
        "distillation mid-training, distillation SFT, Rollout DPO and RL with a verifiable reward. "
        f"Made with minireason {stats.package_version} on {stats.generated_at}.",
        "",
    ]
    rows = [
        [f"`{v.name}`", f"{v.rows:,}", f"{v.problems:,}", VIEW_PURPOSE.get(v.name, "")] for v in stats.views
    ]
    return lines + table(["config", "rows", "problems", "use"], rows)


def _how_made(stats: CardStats) -> list[str]:
    lines = ["## How it was made", "", "### Problems", ""]
    sources = ", ".join(f"`{s}` ({n:,})" for s, n in stats.sources) or "none"
    lines += [
        f"{stats.problems:,} problems in the lake; sources: {sources}.",
        "",
        "### Teachers and sampling",
        "",
    ]
    if stats.runs:
        rows = [
            [
                f"`{r.run}`",
                f"`{r.teacher}`",
                f"{r.traces:,}",
                f"{r.problems:,}",
                r.samples,
                r.temperature,
                r.top_p,
                r.max_tokens,
                r.seed,
                r.first if r.first == r.last else f"{r.first} → {r.last}",
                f"{r.cost_usd:.2f}",
            ]
            for r in stats.runs
        ]
        header = [
            "run",
            "teacher",
            "traces",
            "problems",
            "samples/problem",
            "temperature",
            "top_p",
            "max_tokens",
            "seed",
            "generated (UTC)",
            "cost (USD)",
        ]
        lines += table(header, rows)
    else:
        lines += _not_run("generation", "synth generate")
    lines += ["### Verification", ""]
    if stats.verifiers:
        rows = [[f"`{v}`", s, f"{n:,}", f"{c:,}"] for v, s, n, c in stats.verifiers]
        lines += table(["verifier", "status", "traces", "verified correct"], rows)
        lines += _judges(stats.judges)
    else:
        lines += _not_run("verification", "curate verify")
    lines += ["### Curation parameters", ""]
    lines += _stage_params(stats)
    lines += ["Each view's full parameters and input snapshot, as `curate` recorded them:", ""]
    for v in stats.views:
        if v.provenance is None:
            lines += [
                f"- `{v.name}`: _no provenance file: this view was written without its parameters._",
                "",
            ]
            continue
        lines += [
            f"<details><summary><code>{v.name}</code> (<code>.view.json</code>)</summary>",
            "",
            "```json",
            json.dumps(v.provenance, indent=1, sort_keys=True, default=str),
            "```",
            "",
            "</details>",
            "",
        ]
    return lines


def _view_params(v: ViewStats) -> dict | None:
    """`curate`'s settings for this stage (from .view.json's params.views), when recorded."""
    params = ((v.provenance or {}).get("params") or {}).get("views")
    return params if isinstance(params, dict) else None


def _stage_params(stats: CardStats) -> list[str]:
    """One line per view with its stage settings, and each prompt the teacher answered once."""
    lines, instructions = [], []
    for v in stats.views:
        params = _view_params(v)
        if params is None:
            continue
        shown = ", ".join(f"{k}={json.dumps(val)}" for k, val in params.items() if k != "instruction")
        lines.append(f"- `{v.name}`: {shown or 'no stage parameters'}")
        for asked in _prompts(v, params):
            if asked not in instructions:
                instructions.append(asked)
    lines += [f"- prompt the teacher answered (and the rows keep): {a}" for a in instructions]
    return lines + [""] if lines else []


def _prompts(view: ViewStats, params: dict) -> list[str]:
    """The view's prompt templates (.view.json params.prompts), each as its messages in one line; an
    older lake's single `instruction` as the user turn it made."""
    templates = ((view.provenance or {}).get("params") or {}).get("prompts") or []
    if not templates and params.get("instruction"):
        return [f"user: “{{problem}}\\n{params['instruction']}”"]
    out = []
    for t in templates:
        messages = json.loads(t)
        # one line per prompt: line breaks shown as \n, as the teacher received them
        out.append(" · ".join(f"{m['role']}: “{_one_line(m['content'])}”" for m in messages))
    return out


def _one_line(text) -> str:
    return str(text).replace("\n", "\\n")


def _statistics(stats: CardStats, layout: CardLayout) -> list[str]:
    lines = ["## Statistics", "", "### Rows and tokens", ""]
    lines += table(
        ["config", "series", "rows", "unit", "total", "mean", "p10", "median", "p90", "max"],
        [_length_row(v, s) for v in stats.views for s in v.lengths]
        + [[f"`{v.name}`", "prompts only", f"{v.rows:,}"] + ["-"] * 7 for v in stats.views if not v.lengths],
    )
    lines += [_prompt_line(v) for v in stats.views if v.prompt_pass_rates] + [""] * any(
        v.prompt_pass_rates for v in stats.views
    )
    lines += _figure(layout, "lengths", "Completion length per view")
    lines += ["### Teacher pass rate and difficulty", ""]
    if stats.pass_rates is None:
        lines += _not_run("verification", "curate verify")
    else:
        rates = np.asarray(stats.pass_rates)
        lines += [
            f"{len(rates):,} verified problems, mean pass rate {rates.mean():.3f}; "
            f"{int((rates == 0).sum()):,} never solved, {int((rates == 1).sum()):,} always solved.",
            "",
        ]
        lines += _figure(layout, "pass_rate", "Pass-rate distribution")
    if stats.bands:
        lines += ["Difficulty bands (from `problem_stats`" + _thresholds(stats) + "):", ""]
        lines += table(
            ["band", "problems", "mean pass rate"], [[b, f"{n:,}", f"{p:.3f}"] for b, n, p in stats.bands]
        )
    if stats.levels:
        lines += ["Pass rate by problem level:", ""]
        lines += table(
            ["level", "problems", "pass rate"],
            [["no level" if lv is None else lv, f"{n:,}", f"{p:.3f}"] for lv, n, p in stats.levels],
        )
    lines += ["### Drop-reason funnel", ""]
    if stats.funnel is None:
        return lines + _not_run("curation funnel", "curate run")
    rows = [
        [
            f"`{f.step}`",
            f.unit,
            f"{f.rows_in:,}",
            f"{f.rows_out:,}",
            f.reason or "-",
            f"{f.count:,}" if f.reason else "-",
        ]
        for f in stats.funnel
    ]
    return (
        lines
        + table(["step", "unit", "in", "out", "drop reason", "dropped"], rows)
        + _figure(layout, "funnel", "Curation funnel")
    )


def _thresholds(stats: CardStats) -> str:
    if stats.band_thresholds is None:
        return ""
    hard, medium = stats.band_thresholds
    return f"; unsolved = 0, hard < {hard:g}, medium < {medium:g}, easy < 1, trivial = 1"


def _length_row(v: ViewStats, s: LengthSeries) -> list:
    x = np.asarray(s.values, dtype=float)
    p10, p50, p90 = np.percentile(x, [10, 50, 90])
    return [
        f"`{v.name}`",
        s.label,
        f"{len(x):,}",
        s.unit,
        f"{int(x.sum()):,}",
        f"{x.mean():,.1f}",
        f"{p10:,.0f}",
        f"{p50:,.0f}",
        f"{p90:,.0f}",
        f"{int(x.max()):,}",
    ]


def _prompt_line(v: ViewStats) -> str:
    r = np.asarray(v.prompt_pass_rates, dtype=float)
    return (
        f"`{v.name}`: {v.rows:,} prompts over {v.problems:,} problems; teacher pass rate of its prompts "
        f"{r.min():.3f}–{r.max():.3f} (mean {r.mean():.3f}); repeated rows are oversampled hard prompts."
    )


def _figure(layout: CardLayout, name: str, alt: str) -> list[str]:
    return [f"![{alt}]({layout.plots[name]})", ""] if name in layout.plots else []


def _decontamination(stats: CardStats) -> list[str]:
    lines = ["## Decontamination", ""]
    if stats.decontam is None:
        return lines + [
            "**Decontamination has not run for this data**: its problems were not checked against any "
            "evaluation benchmark. Do not report benchmark scores of models trained on it without checking.",
            "",
        ]
    sizes = sorted({d.n_gram for d in stats.decontam if d.n_gram})
    unit = f"{'/'.join(map(str, sizes))}-gram" if sizes else "n-gram"
    matched = sum(d.matched for d in stats.decontam)
    lines += [
        f"Training problems were checked for {unit} overlap (normalised words; n-grams that several "
        "benchmark items share are boilerplate and ignored; a match must cover half of an item's n-grams or "
        "follow its words closely) with each benchmark; "
        + (
            f"{matched:,} matched and were dropped (reason `contaminated:<benchmark>` in the funnel)."
            if matched
            else "none matched."
        ),
        "",
    ]
    rows = [
        [f"`{d.benchmark}`", f"{d.items:,}", f"{d.matched:,}", _example(d.examples[0]) if d.examples else "-"]
        for d in stats.decontam
    ]
    lines += table(["benchmark", "items checked", "training problems matched", "example"], rows)
    return lines + _near_dups(stats)


def _near_dups(stats: CardStats) -> list[str]:
    """What near-duplicate dedup merged, with both texts (two problems with different gold answers are
    never merged)."""
    if stats.near_dups is None:
        return []
    count, pairs = stats.near_dups
    lines = [
        "### Near-duplicates",
        "",
        f"{count:,} problems were merged into a near-duplicate with the same gold answer.",
    ]
    lines += [""] + [f"- “{_clip(a, 110)}” ≈ kept “{_clip(b, 110)}”" for a, b in pairs] if pairs else []
    return lines + [""]


def _example(ex) -> str:
    """A (training problem, benchmark item) pair, shortened; other shapes as compact JSON."""
    if isinstance(ex, dict) and "problem" in ex and "benchmark_item" in ex:
        pair = f"“{_clip(ex['problem'], 70)}” ≈ “{_clip(ex['benchmark_item'], 70)}”"
        shared = ex.get("shared") or []
        return pair + (f" (shares “{_clip(shared[0], 60)}”)" if shared else "")
    return _clip(ex if isinstance(ex, str) else json.dumps(ex, ensure_ascii=False, default=str), 160)


def _clip(text, n: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _schema(stats: CardStats) -> list[str]:
    lines = ["## Schema", "", "Each config has one split, `train`.", ""]
    for v in stats.views:
        lines += [f"### `{v.name}`", ""]
        lines += table(
            ["column", "type", "meaning"], [[f"`{c}`", f"`{t}`", COLUMN_DOC.get(c, "")] for c, t in v.columns]
        )
        if v.example is not None:
            lines += [
                "Example row (long texts shortened):",
                "",
                "```json",
                _example_row(v.example),
                "```",
                "",
            ]
    return lines


def _example_row(row: dict) -> str:
    def shorten(x):
        if isinstance(x, str):
            return _clip(x, 240)
        if isinstance(x, list):
            return [shorten(y) for y in x]
        if isinstance(x, dict):
            return {k: shorten(y) for k, y in x.items()}
        return x

    return json.dumps(shorten(row), indent=1, ensure_ascii=False, default=str)


def _how_to_load(stats: CardStats, layout: CardLayout) -> list[str]:
    v = stats.views[0].name
    ref = layout.dataset_ref
    files = layout.data_files[v]
    pattern = files if isinstance(files, str) else "*.parquet"  # a view folder lists its shards by name
    path = f"hf://datasets/{ref}/{pattern}" if layout.on_hub else f"{ref}/{pattern}"
    return [
        "## How to load it",
        "",
        "With 🤗 datasets (each config is one training stage; the columns are what TRL's trainers expect):",
        "",
        "```python",
        "from datasets import load_dataset",
        "",
        "# each config feeds a TRL trainer as is: SFTTrainer (mid, sft), DPOTrainer (dpo), GRPOTrainer (rl)",
        *[f'{x.name} = load_dataset("{ref}", "{x.name}", split="train")' for x in stats.views],
        "```",
        "",
        "With DuckDB:",
        "",
        "```sql",
        f"SELECT count(*), count(DISTINCT problem_id) FROM '{path}';",
        "```",
        "",
        "With polars:",
        "",
        "```python",
        "import polars as pl",
        "",
        f'df = pl.read_parquet("{path}")',
        "```",
        "",
    ]


def _limitations(stats: CardStats) -> list[str]:
    teachers = sorted({r.teacher for r in stats.runs})
    lines = [
        "## Limitations",
        "",
        "- Correctness means *the final answer matched the gold answer* under a math verifier; the reasoning "
        "itself is not checked and can contain wrong steps that happen to reach the right answer.",
        "- Pass rates come from the teacher's own samples: they measure difficulty for that teacher at those "
        "sampling settings, not for other models.",
        "- n-gram decontamination finds verbatim and lightly edited copies of benchmark problems; paraphrases "
        "and translated problems can slip through.",
        "- The rows inherit the teacher's style, errors and licence terms: check the teacher's terms of use "
        "before training or publishing models on it.",
    ]
    if any(t.startswith("procedural") for t in teachers):
        lines.append(
            "- Traces from the `procedural` teacher are generated by a program, not a language model: they are "
            "meant for testing the pipeline and training toy students, not for real models."
        )
    if stats.decontam is None:
        lines.append("- **Decontamination has not run** (see above).")
    return lines + [""]


def _judges(judges: list[tuple[str, int, int]] | None) -> list[str]:
    """How much the LLM judge behind math-verify decided, and how often it disagreed (reward/judge.py)."""
    lines = []
    for judge, decided, overturned in judges or []:
        lines += [
            f"The LLM judge `{judge}` decided {decided:,} verdicts where math-verify could not; it overturned "
            f"math-verify in {overturned:,} ({overturned / decided:.1%}).",
            "",
        ]
    return lines
