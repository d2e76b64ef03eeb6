"""`curate export` and `curate card`: self-contained folders that `datasets` loads by config name.

The commands run in-process through typer's runner (the same entry point as the console script; it
saves the import of matplotlib per call); the console script itself runs in test_publish.py."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from datasets import load_dataset
from helpers import card_lake
from huggingface_hub import DatasetCard
from typer.testing import CliRunner, Result

from curate.cli import app
from lakehouse.store import Lake

COLUMNS = {
    "mid": ["messages", "problem_id", "trace_id"],
    "sft": ["messages", "problem_id", "trace_id"],
    "dpo": ["prompt", "chosen", "rejected", "problem_id", "chosen_trace_id", "rejected_trace_id"],
    "rl": ["prompt", "answer", "pass_rate", "problem_id", "level"],
}


def curate(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("export") / "lake"
    card_lake.build(root)
    return root


@pytest.fixture(scope="module")
def exported(lake_root) -> tuple[Path, Result]:
    out = lake_root.parent / "ds"
    return out, curate("export", "--lake", str(lake_root), "--out", str(out))


def test_export_writes_parquet_card_and_plots(exported):
    out, proc = exported
    assert proc.exit_code == 0, proc.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [".minireason-export", "README.md"] + [
        f"data/{v}/train-00000-of-00001.parquet" for v in sorted(COLUMNS)
    ] + [
        "plots/completion_lengths.png",
        "plots/funnel.png",
        "plots/pass_rate.png",
    ]
    size = sum((out / f).stat().st_size for f in files)
    assert proc.stdout.splitlines() == [
        f"exported mid, sft, dpo, rl: 9 files, {size / 1e6:.2f} MB -> {out}/README.md"
    ]
    assert [p.name for p in out.parent.iterdir() if p.name.startswith(".")] == []  # no staging left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # an ordinary folder, not mkdtemp's private one


def test_every_view_loads_by_name_offline(exported, lake_root, tmp_path):
    out, _ = exported
    lake = Lake(lake_root)
    for view, columns in COLUMNS.items():
        ds = load_dataset(str(out), view, split="train", cache_dir=str(tmp_path / "cache"))
        expected = pq.read_table(lake.files(f"views/{view}")[0]).to_pylist()
        assert ds.column_names == columns
        assert ds.to_list() == expected


def test_card_configs_and_images_point_at_existing_files(exported):
    out, _ = exported
    card = DatasetCard.load(out / "README.md")
    for config in card.data.to_dict()["configs"]:
        (files,) = config["data_files"]
        assert glob.glob(str(out / files["path"])) == [
            str(out / f"data/{config['config_name']}/train-00000-of-00001.parquet")
        ]
    images = [line.split("](")[1].rstrip(")") for line in card.text.splitlines() if line.startswith("![")]
    assert images == ["plots/completion_lengths.png", "plots/pass_rate.png", "plots/funnel.png"]
    assert all((out / i).is_file() for i in images)
    assert f'load_dataset("{out}", "sft", split="train")' in card.text


def test_card_command_writes_into_the_view_folder(tmp_path):
    root = tmp_path / "lake"
    lake = card_lake.build(root)
    proc = curate("card", "--lake", str(root), "--view", "dpo")
    folder = root / "views" / "dpo"
    assert proc.exit_code == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"card for dpo: {folder}/README.md (3 plots)"]
    card = DatasetCard.load(folder / "README.md")
    shards = [f.name for f in lake.files("views/dpo")]
    assert card.data.to_dict()["configs"] == [
        {"config_name": "dpo", "data_files": [{"split": "train", "path": shards}]}
    ]
    assert sorted(p.name for p in (folder / "plots").iterdir()) == [
        "completion_lengths.png",
        "funnel.png",
        "pass_rate.png",
    ]
    ds = load_dataset(str(folder), "dpo", split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.num_rows == 4
    assert not (root / "views" / "sft" / "README.md").exists()
    (folder / "plots" / "old_figure.png").write_bytes(b"stale")
    assert curate("card", "--lake", str(root), "--view", "dpo").exit_code == 0
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.is_dir()) == []
    assert sorted(p.name for p in (folder / "plots").iterdir()) == [
        "completion_lengths.png",
        "funnel.png",
        "pass_rate.png",
    ]


def test_existing_folder_needs_force_and_only_an_earlier_export_is_replaced(lake_root, tmp_path):
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = curate("export", "--lake", str(lake_root), "--out", str(out), "--view", "sft")
    assert proc.exit_code == 2
    assert (
        proc.stderr == f"error: {out} exists and is not empty (pass --force to replace an earlier export)\n"
    )
    proc = curate("export", "--lake", str(lake_root), "--out", str(out), "--view", "sft", "--force")
    assert proc.exit_code == 2
    assert proc.stderr == (
        f"error: --force replaces only an earlier export, and {out} is not one (no .minireason-export)\n"
    )
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    earlier = tmp_path / "earlier"
    assert curate("export", "--lake", str(lake_root), "--out", str(earlier), "--view", "sft").exit_code == 0
    (earlier / "stale.txt").write_text("old")
    proc = curate("export", "--lake", str(lake_root), "--out", str(earlier), "--view", "sft", "--force")
    assert proc.exit_code == 0, proc.stderr
    assert sorted(p.name for p in earlier.iterdir()) == [".minireason-export", "README.md", "data", "plots"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "earlier"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--view", "grpo"], "error: view 'grpo' does not exist in {lake} (views there: mid, sft, dpo, rl)"),
        (["--lake", "/nonexistent/lake"], "error: no lake at /nonexistent/lake (pass --lake)"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(lake_root, tmp_path, args, message):
    proc = curate("export", "--lake", str(lake_root), "--out", str(tmp_path / "ds"), *args)
    assert (proc.exit_code, proc.stderr) == (2, message.format(lake=lake_root) + "\n")
    assert list(tmp_path.iterdir()) == []


def test_a_shard_changed_after_commit_is_refused(tmp_path):
    lake = card_lake.build(tmp_path / "lake")
    shard = lake.files("views/sft")[0]
    shard.write_bytes(shard.read_bytes() + b"x")
    proc = curate("export", "--lake", str(lake.root), "--out", str(tmp_path / "ds"))
    assert proc.exit_code == 2
    assert (
        proc.stderr
        == f"error: {shard}: content does not match its manifest sha256 (modified after it was written)\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake"]


def test_an_empty_view_is_left_out_or_refused(tmp_path):
    lake = card_lake.build(tmp_path / "lake")
    lake.replace("views/dpo", [lake.read("views/dpo").slice(0, 0)])
    proc = curate("export", "--lake", str(lake.root), "--out", str(tmp_path / "ds"))
    assert proc.exit_code == 0, proc.output
    assert proc.stderr == "note: leaving out empty view(s) dpo\n"
    assert sorted(p.name for p in (tmp_path / "ds" / "data").iterdir()) == ["mid", "rl", "sft"]
    proc = curate("export", "--lake", str(lake.root), "--out", str(tmp_path / "ds2"), "--view", "dpo")
    assert (proc.exit_code, proc.stderr) == (
        2,
        "error: view 'dpo' has no rows: nothing to export (see the funnel: `curate stats`)\n",
    )
    assert not (tmp_path / "ds2").exists()
