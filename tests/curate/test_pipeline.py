"""`curate run` end to end on a real little lake: builtin problems (plus a planted near-duplicate and a
planted MATH-500 item), procedural teacher rollouts, real verification. The funnel adds up, a re-run
with nothing new changes nothing, new traces are the only ones processed, views load with `datasets`."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict

import pyarrow as pa
import pytest
from conftest import cli
from datasets import load_dataset
from typer.testing import CliRunner

from curate.cli import app
from lakehouse.ids import problem_id
from lakehouse.schema import PROBLEMS
from lakehouse.store import Lake
from synth.config import GenerateConfig
from synth.generate import main as generate
from synth.problems import ProblemsConfig
from synth.problems import main as make_problems

COLUMNS = {
    "mid": ["messages", "problem_id", "trace_id"],
    "sft": ["messages", "problem_id", "trace_id"],
    "dpo": ["prompt", "chosen", "rejected", "problem_id", "chosen_trace_id", "rejected_trace_id"],
    "rl": ["prompt", "answer", "pass_rate", "problem_id", "level"],
}
CACHED = [
    "views/mid",
    "views/sft",
    "views/dpo",
    "views/rl",
    "funnel",
    "drops",
    "dedup",
    "decontam",
    "trace_checks",
]


def curate(*args: str):
    return CliRunner().invoke(app, list(args))


def plant(lake: Lake, benchmarks_dir) -> dict[str, str]:
    """A longer copy of the longest builtin problem (same numbers) and a verbatim MATH-500 item."""
    rows = lake.read("problems").to_pylist()
    base = max(rows, key=lambda r: len(r["problem"].split()))
    copy = base["problem"] + " Show your work."
    item = json.loads((benchmarks_dir / "math500.jsonl").open().readline())
    planted = [
        {**base, "problem_id": problem_id(copy), "problem": copy, "source": "planted"},
        {
            **base,
            "problem_id": problem_id(item["problem"]),
            "problem": item["problem"],
            "source": "planted",
            "answer": item["answer"],
        },
    ]
    lake.write("problems", pa.Table.from_pylist(planted, schema=PROBLEMS))
    return {
        "near": planted[0]["problem_id"],
        "kept": base["problem_id"],
        "contaminated": planted[1]["problem_id"],
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory, benchmarks_dir):
    root = tmp_path_factory.mktemp("pipeline") / "lake"
    make_problems(ProblemsConfig(source="builtin:arith", lake=root, n=40, seed=3))
    planted = plant(Lake(root), benchmarks_dir)
    generate(GenerateConfig(lake=root, teacher="procedural", samples=4, run="r1", progress=False))
    result = curate("run", "--lake", str(root))
    assert result.exit_code == 0, result.output
    return Lake(root), planted, result.output


def funnel(lake: Lake) -> dict[str, dict]:
    steps: dict[str, dict] = {}
    for r in lake.read("funnel").to_pylist():
        s = steps.setdefault(
            r["step"], {"unit": r["unit"], "in": r["rows_in"], "out": r["rows_out"], "reasons": {}}
        )
        if r["reason"]:
            s["reasons"][r["reason"]] = r["count"]
    return steps


def test_funnel_adds_up(built):
    lake, planted, output = built
    steps = funnel(lake)
    for name, s in steps.items():
        assert s["in"] - s["out"] == sum(s["reasons"].values()), name
    chains = [
        ["exact_dedup", "near_dedup", "decontam", "view:rl"],
        ["problem", "trace_dedup", "verify", "filters", "view:mid", "view:sft"],
        ["filters", "view:dpo"],
    ]
    for chain in chains:
        for a, b in zip(chain, chain[1:], strict=False):
            assert steps[a]["out"] == steps[b]["in"], (a, b)
    assert steps["exact_dedup"]["in"] == lake.rows("problems") == 42
    assert steps["problem"]["in"] == lake.rows("traces") == 42 * 4
    assert steps["near_dedup"]["reasons"] == {"near_dup": 1}
    assert steps["decontam"]["reasons"] == {"contaminated:math500": 1}
    assert steps["problem"]["reasons"] == {"near_dup": 4, "contaminated:math500": 4}
    assert "view:dpo" in output and "curate run: views written" in output


def test_drops_name_the_reason_and_the_kept_row(built):
    lake, planted, _ = built
    drops = lake.read("drops").to_pylist()
    problem_drops = [(d["id"], d["step"], d["reason"], d["detail"]) for d in drops if d["unit"] == "problem"]
    assert (planted["near"], "near_dedup", "near_dup", planted["kept"]) in problem_drops
    assert [d for d in problem_drops if d[0] == planted["contaminated"]][0][2] == "contaminated:math500"
    counted = defaultdict(int)
    for d in drops:
        counted[(d["step"], d["reason"])] += 1
    for name, s in funnel(lake).items():
        if not name.startswith("view:"):
            for reason, count in s["reasons"].items():
                assert counted[(name, reason)] == count, (name, reason)


def test_views_load_with_datasets_in_trl_formats(built):
    lake, _, _ = built
    for view, columns in COLUMNS.items():
        # the DESIGN contract: data_dir alone (manifest and provenance files are hidden, so skipped)
        ds = load_dataset("parquet", data_dir=str(lake.path(f"views/{view}")), split="train")
        assert ds.column_names == columns
        assert len(ds) == lake.rows(f"views/{view}") > 0
        first = ds[0]
        turns = first["messages"] if "messages" in columns else first["prompt"]
        assert turns[0]["role"] == "user" and turns[0]["content"].endswith("within \\boxed{}.")
        if view == "dpo":
            assert first["chosen"][0]["role"] == first["rejected"][0]["role"] == "assistant"
            assert first["chosen_trace_id"] != first["rejected_trace_id"]
        if view in ("mid", "sft"):
            assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
            assert first["messages"][1]["content"].startswith("<think>")


def test_rerun_with_nothing_new_changes_nothing(built):
    lake, _, _ = built
    before = {t: lake.manifest(t) for t in CACHED}
    files = {p: p.read_bytes() for t in CACHED for p in lake.files(t)}
    result = curate("run", "--lake", str(lake.root))
    assert result.exit_code == 0, result.output
    assert "nothing new since the last run" in result.output
    assert {t: lake.manifest(t) for t in CACHED} == before
    assert {p: p.read_bytes() for p in files} == files


def test_new_traces_are_the_only_ones_processed(built):
    lake, _, _ = built
    decontam, dedup = lake.manifest("decontam"), lake.manifest("dedup")
    checked = lake.rows("trace_checks")
    generate(
        GenerateConfig(lake=lake.root, teacher="procedural", samples=2, run="r2", seed=5, progress=False)
    )
    result = curate("run", "--lake", str(lake.root))
    assert result.exit_code == 0, result.output
    assert "curate verify: 84 traces verified" in result.output
    assert lake.rows("trace_checks") == checked + 84  # only the new traces were filtered
    assert lake.manifest("decontam") == decontam and lake.manifest("dedup") == dedup  # no new problems
    assert funnel(lake)["problem"]["in"] == 42 * 6


def test_help_shows_an_example():
    for command in ("run", "dedup", "decontam", "filter", "views"):
        result = curate(command, "--help")
        assert result.exit_code == 0 and "Example: curate " + command in " ".join(result.output.split())


def test_empty_lake_is_a_one_line_error(tmp_path):
    proc = subprocess.run(
        [cli("curate"), "run", "--lake", str(tmp_path / "none")], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: no lake at {tmp_path / 'none'} (run `synth problems` and `synth generate` first, or pass --lake)"
    ]
    Lake(tmp_path / "empty")
    result = curate("views", "--lake", str(tmp_path / "empty"))
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == f"error: lake {tmp_path / 'empty'} has no problems (run `synth problems` first)"
    )


def test_views_before_verification_is_a_one_line_error(tmp_path):
    root = tmp_path / "lake"
    make_problems(ProblemsConfig(source="builtin:arith", lake=root, n=5, seed=1))
    generate(GenerateConfig(lake=root, teacher="procedural", samples=1, progress=False))
    result = curate("views", "--lake", str(root))
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {root} has no verdicts: run `curate verify` (or `curate run`) before building views"
    )
    assert not Lake(root).has("views/mid") and not Lake(root).has("funnel")


@pytest.fixture()
def small(tmp_path):
    root = tmp_path / "lake"
    make_problems(ProblemsConfig(source="builtin:arith", lake=root, n=12, seed=2))
    generate(GenerateConfig(lake=root, teacher="procedural", samples=2, progress=False))
    return root


def test_single_step_commands(small, tmp_path):
    bench = tmp_path / "b.jsonl"
    bench.write_text(
        json.dumps({"question": "An unrelated question about the number of primes below fifty?"}) + "\n"
    )
    result = curate("dedup", "--tasks", "2", "--lake", str(small))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "curate dedup: 12 problems, 0 exact duplicates, 0 near-duplicates dropped"
    result = curate("decontam", "--benchmarks", str(bench), "--ngram", "8", "--lake", str(small))
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().splitlines() == [
        "  b: 1 items, 0 training problems matched",
        "curate decontam: 12 problems checked against 1 benchmarks (8-grams), 0 contaminated",
    ]
    result = curate("filter", "--lake", str(small))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("curate filter: 24 traces checked, failing: ")
    assert Lake(small).rows("trace_checks") == 24


@pytest.mark.parametrize(
    "args, message",
    [
        (["--executor", "bogus"], "unknown executor 'bogus' (use local, slurm or ray)"),
        (["--executor", "slurm"], "--executor slurm needs dedup.slurm_partition in the config"),
    ],
)
def test_bad_executor_is_a_one_line_error(small, args, message):
    result = curate("dedup", *args, "--lake", str(small))
    assert result.exit_code == 2
    assert result.output.strip() == f"error: {message}"
    assert not Lake(small).has("dedup")


@pytest.mark.slow
def test_demo_scale_run_adds_up(tmp_path):
    """The demo's shape: 3,000 chain problems x 4 procedural rollouts, through `curate run`."""
    root = tmp_path / "lake"
    make_problems(ProblemsConfig(source="builtin:chain", lake=root, n=3000, seed=0))
    generate(GenerateConfig(lake=root, teacher="procedural", samples=4, run="demo", progress=False))
    result = curate("run", "--lake", str(root))
    assert result.exit_code == 0, result.output
    steps = funnel(Lake(root))
    assert steps["problem"]["in"] == 12000
    for name, s in steps.items():
        assert s["in"] - s["out"] == sum(s["reasons"].values()), name
    assert steps["near_dedup"]["reasons"] == {}  # chains differ only in digits and operators
    assert all(Lake(root).rows(f"views/{v}") > 0 for v in COLUMNS)
