"""The card of a demo-shaped lake made by the real pipeline (builtin problems -> procedural teacher ->
`curate run` against the real benchmark files -> `curate export`): every number the card prints is
the number SQL gives over the same lake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from datasets import load_dataset
from huggingface_hub import DatasetCard

import curate.sql_views  # noqa: F401  (problem_stats in the SQL session)
from lakehouse.sql import connect
from problemsets.registry import registry

BIN = Path(sys.executable).parent
VIEWS = ["mid", "sft", "dpo", "rl"]


def run(*cmd: str) -> None:
    proc = subprocess.run([str(BIN / cmd[0]), *cmd[1:]], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stderr[-2000:]}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo")
    lake, out = root / "lake", root / "export"
    run("synth", "problems", "--source", "builtin:chain", "--n", "40", "--seed", "3", "--lake", str(lake))
    run(
        "synth", "generate", "--teacher", "procedural", "--samples", "4", "--run", "demo", "--lake", str(lake)
    )
    run("curate", "run", "--lake", str(lake))
    run("curate", "export", "--lake", str(lake), "--out", str(out))
    return lake, out


def test_demo_card_numbers_match_sql_over_the_lake(demo):
    lake, out = demo
    con = connect(lake)
    card = DatasetCard.load(out / "README.md")
    lines = card.text.splitlines()
    for v in VIEWS:
        rows, problems = con.execute(f"SELECT count(*), count(DISTINCT problem_id) FROM {v}").fetchone()
        assert rows > 0, v
        assert any(line.startswith(f"| `{v}` | {rows:,} | {problems:,} | ") for line in lines), v
    for band, n, rate in con.execute(
        "SELECT band, count(*), avg(pass_rate) FROM problem_stats GROUP BY 1"
    ).fetchall():
        assert f"| {band} | {n:,} | {rate:.3f} |" in lines
    traces, problems = con.execute("SELECT count(*), count(DISTINCT problem_id) FROM traces").fetchone()
    assert any(
        line.startswith(f"| `demo` | `procedural` | {traces:,} | {problems:,} | 4 | ") for line in lines
    )
    for step, unit, n_in, n_out, reason, count in con.execute(
        "SELECT step, unit, rows_in, rows_out, reason, count FROM funnel"
    ).fetchall():
        dropped = f"{reason} | {count:,}" if reason else "- | -"
        assert f"| `{step}` | {unit} | {n_in:,} | {n_out:,} | {dropped} |" in lines


def test_demo_card_reports_decontamination_against_the_real_benchmarks(demo):
    _, out = demo
    text = (out / "README.md").read_text()
    for b in registry().values():  # every registered set, counted from its file
        items = sum(1 for line in Path(b.file).read_text().splitlines() if line.strip())
        assert f"| `{b.name}` | {items:,} | 0 | - |" in text
    assert (
        "Training problems were checked for 13-gram overlap (normalised words; n-grams that several "
        "benchmark items share are boilerplate and ignored; a match must cover half of an item's n-grams or "
        "follow its words closely) with each benchmark; none matched." in text
    )


def test_demo_export_loads_and_its_provenance_is_the_lake_s(demo, tmp_path):
    lake, out = demo
    for v in VIEWS:
        ds = load_dataset(str(out), v, split="train", cache_dir=str(tmp_path / "cache"))
        assert ds.num_rows == connect(lake).execute(f"SELECT count(*) FROM {v}").fetchone()[0]
    sft = json.loads((lake / "views" / "sft" / ".view.json").read_text())
    assert json.dumps(sft, indent=1, sort_keys=True, default=str) in (out / "README.md").read_text()
    assert sorted(p.name for p in (out / "plots").iterdir()) == [
        "completion_lengths.png",
        "funnel.png",
        "pass_rate.png",
    ]
