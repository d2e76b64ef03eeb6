"""Each view's exact rows on a hand-checkable lake.

Problems (pass rate = correct verdicts / verdicts):
- A: 5 rollouts. Correct s0, s1, s2 (tokens 30, 10, 20); incorrect s3, s4 (tokens 28, 12). Pass rate 0.6.
- B: 2 rollouts, both correct (tokens 8, 9). Pass rate 1.0.
- C: 4 rollouts. Correct s0 (tokens 5); incorrect s1, s2 (tokens 6, 7); s3 truncated (finish "length",
  verdict "truncated"), dropped by the finish-reason filter. Pass rate 0.25.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from curate_lake import INSTRUCTION, benchmark_file, config, problem_row, trace_row, verdict_row, write

from curate import pipeline
from curate.config import check, load_config
from curate.views import PoolTrace, Problem, build_sft, pair_rollouts
from lakehouse.errors import UserError
from lakehouse.store import Lake

TEXT = {
    "A": "How many odd numbers lie between 10 and 20 inclusive?",
    "B": "What is 6 times 7?",
    "C": "Solve x + 3 = 10.",
}
ANSWER = {"A": "5", "B": "42", "C": "7"}
# (problem, sample) -> (correct, tokens, finish, status)
ROLLOUTS = {
    ("A", 0): (True, 30, "stop", "ok"),
    ("A", 1): (True, 10, "stop", "ok"),
    ("A", 2): (True, 20, "stop", "ok"),
    ("A", 3): (False, 28, "stop", "ok"),
    ("A", 4): (False, 12, "stop", "ok"),
    ("B", 0): (True, 8, "stop", "ok"),
    ("B", 1): (True, 9, "stop", "ok"),
    ("C", 0): (True, 5, "stop", "ok"),
    ("C", 1): (False, 6, "stop", "ok"),
    ("C", 2): (False, 7, "stop", "ok"),
    ("C", 3): (False, 40, "length", "truncated"),
}
PID = {name: problem_row(text, ANSWER[name])["problem_id"] for name, text in TEXT.items()}


def reasoning(name: str, s: int) -> str:
    return f"working of {name} sample {s}"


def completion(name: str, s: int) -> str:
    correct = ROLLOUTS[(name, s)][0]
    return f"So the answer is \\boxed{{{ANSWER[name] if correct else 'wrong' + str(s)}}}."


def assistant(name: str, s: int) -> list[dict]:
    # the canonical assistant turn (sampling.prompts.assistant_text)
    return [
        {"role": "assistant", "content": f"<think>\n{reasoning(name, s)}\n</think>\n\n{completion(name, s)}"}
    ]


def user(name: str) -> list[dict]:
    return [{"role": "user", "content": f"{TEXT[name]}\n{INSTRUCTION}"}]


def tid(name: str, s: int) -> str:
    return trace_row(PID[name], s, None, "", 0)["trace_id"]


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("views") / "lake"
    lake = Lake(root)
    bench = benchmark_file(
        root.parent, "tiny", ["An unrelated benchmark question about prime numbers below fifty."]
    )
    traces, verdicts = [], []
    for (name, s), (correct, tokens, finish, status) in ROLLOUTS.items():
        t = trace_row(
            PID[name], s, reasoning(name, s), completion(name, s), tokens, finish=finish, prompt=user(name)
        )
        traces.append(t)
        verdicts.append(verdict_row(t, correct, status))
    write(lake, [problem_row(TEXT[n], ANSWER[n], level=i + 1) for i, n in enumerate(TEXT)], traces, verdicts)
    cfg = config(root, [bench])
    pipeline.main(cfg)
    return lake


def rows(lake: Lake, view: str) -> list[dict]:
    return lake.read(f"views/{view}").to_pylist()


def by_problem(*names: str) -> list[str]:
    return sorted(names, key=lambda n: PID[n])


def test_mid_is_every_correct_trace_in_problem_then_sample_order(lake):
    expected = []
    for name in by_problem("A", "B", "C"):
        for s in sorted(s for (n, s), r in ROLLOUTS.items() if n == name and r[0]):
            expected.append(
                {
                    "messages": user(name) + assistant(name, s),
                    "problem_id": PID[name],
                    "trace_id": tid(name, s),
                }
            )
    assert rows(lake, "mid") == expected


def test_sft_keeps_the_two_shortest_correct_traces_per_problem(lake):
    chosen = {"A": [1, 2], "B": [0, 1], "C": [0]}  # A: tokens 10 and 20 beat 30
    expected = [
        {"messages": user(n) + assistant(n, s), "problem_id": PID[n], "trace_id": tid(n, s)}
        for n in by_problem("A", "B", "C")
        for s in chosen[n]
    ]
    assert rows(lake, "sft") == expected


def test_dpo_pairs_shortest_correct_with_incorrect_rollouts_of_the_same_problem(lake):
    # A: chosen by length s1 (10), s2 (20); rejected by sample order s3, s4; s0 left (max 2 pairs).
    # B has no incorrect rollout; C: s0 with s1 (s3 was filtered as truncated).
    pairs = {"A": [(1, 3), (2, 4)], "C": [(0, 1)]}
    expected = [
        {
            "prompt": user(n),
            "chosen": assistant(n, c),
            "rejected": assistant(n, r),
            "problem_id": PID[n],
            "chosen_trace_id": tid(n, c),
            "rejected_trace_id": tid(n, r),
        }
        for n in by_problem("A", "C")
        for c, r in pairs[n]
    ]
    assert rows(lake, "dpo") == expected


def test_rl_keeps_the_band_and_repeats_hard_prompts(lake):
    # A (0.6) and B (1.0) are above 0.5: too easy. C (1 of 4 = 0.25) is hard: two rows.
    row = {"prompt": user("C"), "answer": "7", "pass_rate": 0.25, "problem_id": PID["C"], "level": 3}
    assert rows(lake, "rl") == [row, row]


def test_funnel_of_the_fixture(lake):
    funnel = {
        (r["step"], r["reason"]): (r["rows_in"], r["rows_out"], r["count"])
        for r in lake.read("funnel").to_pylist()
    }
    assert funnel[("filters", "not_stop")] == (11, 10, 1)
    assert funnel[("view:mid", "incorrect")] == (10, 6, 4)
    assert funnel[("view:sft", "over_k")] == (6, 5, 1)
    assert funnel[("view:dpo", "no_incorrect")] == (10, 6, 2)
    assert funnel[("view:dpo", "over_max_pairs")] == (10, 6, 1)
    assert funnel[("view:dpo", "unpaired")] == (10, 6, 1)
    assert funnel[("view:rl", "too_easy")] == (3, 1, 2)


def test_view_json_records_parameters_and_input_snapshot(lake):
    record = json.loads((lake.path("views/dpo") / ".view.json").read_text())
    assert record["view"] == "dpo" and record["rows"] == 3
    assert record["params"]["views"] == {
        "dpo_max_pairs": 2,
        "dpo_length_ratio": None,
        "dpo_chosen": "shortest",
    }
    # the prompt the teacher answered, with the problem marked: the views keep it, never rebuild it
    assert record["params"]["prompts"] == [
        json.dumps([{"role": "user", "content": "{problem}\n" + INSTRUCTION}])
    ]
    shards = lake.manifest("traces")["shards"]
    assert record["inputs"]["traces"] == {"rows": 11, "shards": [s["sha256"] for s in shards]}


def _trace(name: str, s: int, length: int) -> PoolTrace:
    correct = ROLLOUTS[(name, s)][0]
    return PoolTrace(f"{name}{s}", name, s, "", length, correct, "ok")


@pytest.mark.parametrize(
    "ratio, expected",
    [
        (None, [("A1", "A3"), ("A2", "A4")]),  # first unused rejected, in sample order
        (1.5, [("A1", "A4"), ("A2", "A3")]),  # 10 vs 12 and 20 vs 28: closest within 1.5x
        (1.1, [("A0", "A3")]),  # only 30 vs 28 is within 10%
    ],
)
def test_length_matching(ratio, expected):
    cfg = config(Path("unused"), []).views
    cfg.dpo_length_ratio = ratio
    correct = [_trace("A", s, ROLLOUTS[("A", s)][1]) for s in (0, 1, 2)]
    incorrect = [_trace("A", s, ROLLOUTS[("A", s)][1]) for s in (3, 4)]
    pairs = pair_rollouts(correct, incorrect, cfg)
    assert [(c.trace_id, r.trace_id) for c, r in pairs] == expected


@pytest.mark.parametrize(
    "order, expected",
    [
        ("shortest", [("A1", "A3"), ("A2", "A4")]),  # chosen 10 then 20 long; the 30-long A0 is left out
        ("sample", [("A0", "A3"), ("A1", "A4")]),  # chosen in sample order, whatever their lengths
    ],
)
def test_chosen_order(order, expected):
    cfg = config(Path("unused"), []).views
    cfg.dpo_chosen = order
    correct = [_trace("A", s, ROLLOUTS[("A", s)][1]) for s in (2, 0, 1)]
    incorrect = [_trace("A", s, ROLLOUTS[("A", s)][1]) for s in (4, 3)]
    pairs = pair_rollouts(correct, incorrect, cfg)
    assert [(c.trace_id, r.trace_id) for c, r in pairs] == expected


def test_unknown_chosen_order_is_a_one_line_error(tmp_path):
    (tmp_path / "c.yaml").write_text("views:\n  dpo_chosen: longest\n")
    with pytest.raises(UserError) as e:
        check(load_config(tmp_path / "c.yaml"))
    assert str(e.value) == "views.dpo_chosen must be one of shortest, sample, got 'longest'"


def test_sft_band_prefers_and_optionally_drops(tmp_path):
    cfg = config(tmp_path, []).views
    cfg.sft_k, cfg.sft_band, cfg.sft_max_rows = 1, (0.2, 0.7), 2
    problems = {
        n: Problem(n, TEXT[n], ANSWER[n], 1, rate) for n, rate in (("A", 0.6), ("B", 1.0), ("C", 0.25))
    }
    pool = [_trace(n, s, ROLLOUTS[(n, s)][1]) for (n, s) in ROLLOUTS if ROLLOUTS[(n, s)][0]]
    view, drops = build_sft(pool, problems, cfg)
    assert [r["trace_id"] for r in view] == ["A1", "C0"]  # in-band A and C first; B (1.0) cut by the cap
    assert drops == Counter({"over_k": 3, "over_max_rows": 1})
    cfg.sft_outside_band, cfg.sft_max_rows = False, None
    view, drops = build_sft(pool, problems, cfg)
    assert [r["trace_id"] for r in view] == ["A1", "C0"]
    assert drops == Counter({"over_k": 2, "outside_band": 2})
