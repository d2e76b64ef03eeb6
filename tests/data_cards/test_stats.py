"""Statistics gathered from the hand-checkable lake of tests/helpers/card_lake.py."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from helpers import card_lake
from helpers.card_lake import CORRECT, tokens

from data_cards.stats import FunnelRow, collect
from lakehouse.errors import UserError


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("stats") / "lake"
    card_lake.build(root)
    return root


@pytest.fixture(scope="module")
def stats(lake_root):
    return collect(lake_root, ["mid", "sft", "dpo", "rl"])


def test_rows_problems_and_files_per_view(stats, lake_root):
    got = {v.name: (v.rows, v.problems, len(v.files)) for v in stats.views}
    assert got == {"mid": (12, 5, 1), "sft": (5, 5, 1), "dpo": (4, 4, 1), "rl": (5, 5, 1)}
    assert all(f.parent == lake_root / "views" / v.name for v in stats.views for f in v.files)


def test_lengths_follow_lineage_into_traces(stats):
    series = {s.label: (s.unit, sorted(s.values)) for v in stats.views for s in v.lengths}
    mid = sorted(tokens(i, s) for i in range(6) for s in range(CORRECT[i]))
    assert series == {
        "mid": ("tokens", mid),
        "sft": ("tokens", [tokens(i, 0) for i in range(5)]),
        "dpo chosen": ("tokens", [tokens(i, 0) for i in range(1, 5)]),
        "dpo rejected": ("tokens", [tokens(i, CORRECT[i]) for i in range(1, 5)]),
    }
    assert [v.lengths for v in stats.views if v.name == "rl"] == [[]]


def test_runs_verifiers_pass_rates_levels(stats):
    (run,) = stats.runs
    assert (run.run, run.teacher, run.traces, run.problems, run.samples) == ("r1", "procedural", 24, 6, 4)
    assert (run.temperature, run.top_p, run.max_tokens, run.seed) == ("0.8", "0.95", "256", "7")
    assert (run.first, run.last) == ("2026-11-28 08:00", "2026-11-28 08:00")
    assert stats.problems == 6 and stats.sources == [("builtin:chain", 6)]
    assert stats.verifiers == [("math-verify-test", "ok", 24, 12)]
    assert sorted(stats.pass_rates) == [0.0, 0.25, 0.5, 0.5, 0.75, 1.0]
    assert stats.levels == [(1, 2, 0.875), (2, 2, 0.5), (3, 2, 0.125)]
    # bands from problem_stats at the thresholds 0.25 / 0.5: p5 unsolved, p4 medium, p1-p3 easy, p0 trivial
    assert [(b, n, round(p, 4)) for b, n, p in stats.bands] == [
        ("unsolved", 1, 0.0),
        ("medium", 1, 0.25),
        ("easy", 3, 0.5833),
        ("trivial", 1, 1.0),
    ]


def test_funnel_decontam_and_provenance(stats):
    assert stats.funnel[1] == FunnelRow("filters", "traces", 24, 20, "no_boxed_answer", 3)
    assert len(stats.funnel) == 4
    assert [(d.benchmark, d.items, d.matched, d.n_gram) for d in stats.decontam] == [
        ("aime24", 30, 0, 13),
        ("math500", 500, 1, 13),
    ]
    assert stats.decontam[1].examples == [
        {
            "problem_id": "p9",
            "problem": "Compute 9+0.",
            "benchmark_item": "Compute 9+0 now.",
            "shared": ["compute 9 0"],
        }
    ]
    assert stats.views[1].provenance["view"] == "sft"
    assert dict(stats.views[3].columns)["pass_rate"] == "DOUBLE"


def test_optional_inputs_absent_give_none(tmp_path):
    card_lake.build(tmp_path / "lake", funnel=False, decontam=False, provenance=False)
    s = collect(tmp_path / "lake", ["sft"])
    assert (s.funnel, s.decontam, s.views[0].provenance) == (None, None, None)


def test_unknown_view_is_a_user_error(lake_root):
    with pytest.raises(UserError, match="view 'grpo' does not exist"):
        collect(lake_root, ["grpo"])


def test_many_distinct_sampling_values_are_counted_not_listed(tmp_path):
    lake = card_lake.build(tmp_path / "lake")
    r1 = lake.read("traces")
    r2 = r1.slice(0, 5)
    r2 = r2.set_column(r2.schema.get_field_index("run"), "run", pa.array(["r2"] * 5))
    r2 = r2.set_column(
        r2.schema.get_field_index("seed"), "seed", pa.array([100, 101, 102, 103, 104], pa.int64())
    )
    r2 = r2.set_column(r2.schema.get_field_index("top_p"), "top_p", pa.array([0.9, 0.95, 0.9, 0.9, 1.0]))
    lake.write("traces", r2, partition="run=r2")
    runs = {r.run: r for r in collect(lake.root, ["sft"]).runs}
    assert (runs["r2"].traces, runs["r2"].seed, runs["r2"].top_p) == (
        5,
        "5 distinct values",
        "0.9, 0.95, 1.0",
    )
    assert runs["r1"].seed == "7"


def test_problems_without_a_level_are_a_row_not_left_out():
    import duckdb

    from data_cards.stats import _levels

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE problems AS SELECT * FROM (VALUES ('a', 1), ('b', 1), ('c', NULL)) t(problem_id, level)"
    )
    con.execute(
        "CREATE TABLE verdicts AS SELECT * FROM (VALUES ('a', true), ('a', false), ('b', true), ('c', false)) "
        "t(problem_id, correct)"
    )
    assert _levels(con) == [(1, 2, 2 / 3), (None, 1, 0.0)]
    con.execute("UPDATE problems SET level = NULL")
    assert _levels(con) is None  # no problem has a level: no table
