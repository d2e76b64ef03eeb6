"""`curate export --force` replaces only an earlier export: never the lake, a folder above or inside it,
or the working directory (issue 19: `--out LAKE --force` deleted the lake, `--out $PWD --force` the cwd)."""

from __future__ import annotations

import pytest

from tests.hardening.lakes import assert_one_line_error, run, tree_hash
from tests.helpers.card_lake import build


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    root = tmp_path_factory.mktemp("force")
    build(root / "work" / "lake")
    (root / "work" / "notes.txt").write_text("mine")
    return root


@pytest.mark.parametrize(
    "out, message",
    [
        ("lake", "error: --out lake: the export cannot be the lake lake, inside it or a folder above it"),
        (".", "error: --out .: the export cannot be the lake lake, inside it or a folder above it"),
        ("..", "error: --out ..: the export cannot be the lake lake, inside it or a folder above it"),
        (
            "lake/views/sft",
            "error: --out lake/views/sft: the export cannot be the lake lake, inside it or a folder above it",
        ),
        ("{cwd}", "error: --out {cwd}: the export cannot be the lake lake, inside it or a folder above it"),
        ("notes.txt", "error: --force replaces only an earlier export, and notes.txt is not one"),
    ],
)
def test_force_never_replaces_the_lake_or_the_working_directory(home, out, message):
    cwd = home / "work"
    before = tree_hash(home)
    proc = run("curate", "export", "--view", "sft", "--out", out.format(cwd=cwd), "--force", "--lake", "lake",
               cwd=cwd)  # fmt: skip
    assert assert_one_line_error(proc).startswith(message.format(cwd=cwd))
    assert tree_hash(home) == before


def test_force_refuses_the_working_directory_when_the_lake_is_elsewhere(home, tmp_path):
    (tmp_path / "mine.txt").write_text("mine")
    before = tree_hash(tmp_path)
    proc = run("curate", "export", "--view", "sft", "--out", str(tmp_path), "--force", "--lake",
               str(home / "work" / "lake"), cwd=tmp_path)  # fmt: skip
    assert assert_one_line_error(proc) == (
        f"error: --out {tmp_path} is the working directory or above it: choose a new folder"
    )
    assert tree_hash(tmp_path) == before
