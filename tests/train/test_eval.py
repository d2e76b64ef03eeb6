"""`train eval`: the paper's protocol on a tiny model, one row appended to LAKE/evals."""

from __future__ import annotations

import subprocess

import pytest

from lakehouse.sql import connect
from lakehouse.store import Lake
from tests.conftest import cli
from train.eval import EvalConfig, load_benchmark, main
from train.eval_metrics import maj_at_k, majority_correct, pass_at_1


def chain_eval(model, lake, n: int, samples: int, **options) -> EvalConfig:
    """The tiny SFT student on n builtin chain problems, 40 tokens per response, no progress bars."""
    return EvalConfig(
        model=str(model), benchmark="builtin:chain", n=n, samples=samples, max_tokens=40, lake=lake,
        progress=False, **options,
    )  # fmt: skip


def test_eval_of_tiny_model_on_20_builtin_problems_appends_the_expected_row(sft_run, tmp_path):
    model = str(sft_run[0])
    cfg = chain_eval(model, tmp_path / "lake", n=20, samples=2, stage="sft")
    result = main(cfg)
    rows = Lake(cfg.lake).read("evals").to_pylist()
    assert len(rows) == 1
    row = rows[0]
    assert {k: row[k] for k in ("model", "stage", "benchmark", "k", "n")} == {
        "model": model,
        "stage": "sft",
        "benchmark": "builtin:chain",
        "k": 2,
        "n": 20,
    }
    assert len(result.correct) == 20 and all(len(c) == 2 for c in result.correct)
    assert row["pass_at_1"] == pytest.approx(sum(map(sum, result.correct)) / 40)
    assert row["maj_at_k"] == pytest.approx(maj_at_k(result.preds, result.correct))
    assert row["created_at"] is not None
    # a second run appends, and SQL sees both as a stage table
    main(cfg)
    con = connect(cfg.lake)
    assert (
        con.execute("select stage, benchmark, k, n from evals").fetchall()
        == [("sft", "builtin:chain", 2, 20)] * 2
    )


def test_eval_writes_every_response_with_its_verdict_to_eval_samples(sft_run, tmp_path):
    """The per-response table agrees with the evals row: same keys, one row per (problem, sample), and
    the verdicts and answers are those pass@1 and maj@k were computed from."""
    cfg = chain_eval(sft_run[0], tmp_path / "lake", n=6, samples=3, stage="sft")
    result = main(cfg)
    problems = load_benchmark(cfg)
    con = connect(cfg.lake)
    rows = con.execute(
        "select s.problem_id, s.sample_idx, s.level, s.problem, s.answer, s.pred, s.correct, s.finish_reason "
        "from eval_samples s join evals e using (model, stage, benchmark, created_at) "
        "order by s.problem_id, s.sample_idx"
    ).fetchall()
    expected = sorted(
        (p["problem_id"], j, p["level"], p["problem"], p["answer"], result.preds[i][j], result.correct[i][j])
        for i, p in enumerate(problems)
        for j in range(3)
    )
    assert [r[:7] for r in rows] == expected
    assert {r[7] for r in rows} <= {"stop", "length"}
    per_level = con.execute(
        "select level, avg(correct::int) from eval_samples group by level order by level"
    ).fetchall()
    by_level: dict[int, list[bool]] = {}
    for p, oks in zip(problems, result.correct, strict=True):
        by_level.setdefault(p["level"], []).extend(oks)
    assert per_level == [(lv, pytest.approx(sum(v) / len(v))) for lv, v in sorted(by_level.items())]


def test_eval_without_saving_samples_writes_only_the_evals_row(sft_run, tmp_path):
    cfg = chain_eval(sft_run[0], tmp_path / "lake", n=2, samples=1, save_samples=False)
    main(cfg)
    assert Lake(cfg.lake).tables() == ["evals"]


@pytest.mark.parametrize(
    ("correct", "expected"),
    [
        ([[True, False], [False, False]], 0.25),
        ([[True] * 4, [True, False, False, False]], 0.625),
        ([[False]], 0.0),
    ],
)
def test_pass_at_1_is_the_share_of_correct_samples_averaged_over_problems(correct, expected):
    assert pass_at_1(correct) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("preds", "correct", "expected"),
    [
        (["3", "3", "5"], [True, True, False], True),
        (["5", "3", "5"], [False, True, False], False),
        ([None, None, "3"], [False, False, True], True),  # no answer never votes
        ([None, None], [False, False], False),
        (["4", "3"], [False, True], False),  # a tie goes to the first seen
        ([" 3", "3 ", "7"], [True, True, False], True),  # answers compared stripped
    ],
)
def test_majority_vote(preds, correct, expected):
    assert majority_correct(preds, correct) is expected


def test_maj_at_k_averages_over_problems():
    assert maj_at_k([["1", "1"], ["2", "3"]], [[True, True], [False, True]]) == pytest.approx(0.5)


def test_cli_bad_benchmark_is_one_line_error_exit_2(tmp_path):
    bad = tmp_path / "missing.jsonl"
    proc = subprocess.run(
        [
            cli("train"),
            "eval",
            "--model",
            str(tmp_path),
            "--benchmark",
            str(bad),
            "--lake",
            str(tmp_path / "lake"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "lake" / "evals").exists()
