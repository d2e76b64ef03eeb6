"""`curate publish`: dry run, one atomic commit against a real HTTP server speaking the Hub's commit API
(tests/helpers/fake_hub.py), the parent-commit guard, failures that publish and write nothing, and a
canary token that must never leave the Authorization header."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import huggingface_hub.constants
import pytest
from helpers import card_lake
from helpers.fake_hub import FakeHub
from typer.testing import CliRunner

from curate.cli import app

CURATE = str(Path(sys.executable).parent / "curate")
TOKEN = "hf_CANARYcanary0123456789canary"
EXPORT_FILES = (
    ["README.md"]
    + [f"data/{v}/train-00000-of-00001.parquet" for v in ("dpo", "mid", "rl", "sft")]
    + ["plots/completion_lengths.png", "plots/funnel.png", "plots/pass_rate.png"]
)


def curate_process(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    """The console script in a clean environment: the canary as token, own HF_HOME and TMPDIR."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    tmpdir = home / "tmp"
    tmpdir.mkdir(parents=True, exist_ok=True)
    base.update(HF_HOME=str(home / "hf"), TMPDIR=str(tmpdir), HF_TOKEN=TOKEN, OPENAI_API_KEY=TOKEN)
    return subprocess.run([CURATE, *args], capture_output=True, text=True, env={**base, **env}, timeout=120)


def snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lake_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("publish") / "lake"
    card_lake.build(root)
    return root


@pytest.fixture
def online(monkeypatch):
    """In-process publishing: the suite runs offline (tests/conftest.py); these tests talk to 127.0.0.1 only."""
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", TOKEN)


def publish(lake_root: Path, hub: FakeHub, *args: str):
    return CliRunner().invoke(app, ["publish", "--lake", str(lake_root), "--endpoint", hub.endpoint, *args])


# -- dry run, canary, no network (the console script, as a user runs it) ---------------------------------------


def test_dry_run_lists_exactly_the_export_files_and_sends_nothing(lake_root, tmp_path, online):
    out = tmp_path / "ds"
    assert CliRunner().invoke(app, ["export", "--lake", str(lake_root), "--out", str(out)]).exit_code == 0
    with FakeHub(TOKEN) as hub:
        result = publish(lake_root, hub, "--repo", "org/name", "--dry-run")
    assert result.exit_code == 0, result.output
    assert hub.requests == []
    lines = result.stdout.splitlines()
    assert lines[0] == "dry run: one commit to dataset org/name (public if created); nothing is sent"
    listed = {}
    for line in lines[1:-1]:
        path, size = re.fullmatch(r"  add (\S+) \(([\d,]+) bytes\)", line).groups()
        listed[path] = int(size.replace(",", ""))
    # the export's marker (`curate export --force` replaces only an earlier export) is not the dataset's
    assert list(listed) == EXPORT_FILES == sorted(set(snapshot(out)) - {".minireason-export"})
    # the same files byte for byte, except the card, whose snippets name the repo instead of the folder
    assert {f: listed[f] for f in EXPORT_FILES[1:]} == {f: (out / f).stat().st_size for f in EXPORT_FILES[1:]}
    total = sum(listed.values())
    assert lines[-1] == f"{len(EXPORT_FILES)} files, {total:,} bytes ({total / 1e6:.2f} MB)"


def test_no_network_fails_in_one_line_and_writes_nothing(lake_root, tmp_path):
    before = snapshot(lake_root)
    port = closed_port()
    proc = curate_process(
        "publish",
        "--lake",
        str(lake_root),
        "--repo",
        "org/name",
        home=tmp_path,
        HF_ENDPOINT=f"http://127.0.0.1:{port}",
    )
    assert proc.returncode == 2
    assert proc.stderr == (
        f"error: cannot reach the Hub at http://127.0.0.1:{port}: [Errno 111] Connection refused;"
        " nothing was published\n"
    )
    assert proc.stdout == ""
    assert snapshot(lake_root) == before
    assert snapshot(tmp_path) == {}  # no export left in TMPDIR, nothing in HF_HOME


def test_canary_token_never_leaves_the_authorization_header(tmp_path):
    """Every command, with huggingface_hub's debug logging on: the token is in no output, file or body."""
    root = tmp_path / "lake"
    card_lake.build(root)
    home = tmp_path / "home"
    canary = TOKEN.encode()
    debug = {"HF_HUB_VERBOSITY": "debug"}
    with FakeHub(TOKEN) as hub:
        runs = [
            curate_process("export", "--lake", str(root), "--out", str(tmp_path / "ds"), home=home, **debug),
            curate_process("card", "--lake", str(root), home=home, **debug),
            curate_process(
                "publish",
                "--lake",
                str(root),
                "--repo",
                "org/name",
                home=home,
                HF_ENDPOINT=hub.endpoint,
                **debug,
            ),
        ]
    assert [r.returncode for r in runs] == [0, 0, 0], runs[-1].stderr
    assert "POST http://127.0.0.1" in runs[2].stderr  # the debug log really ran (and printed requests)
    for r in runs:
        assert TOKEN not in r.stdout and TOKEN not in r.stderr
    for path in [p for p in tmp_path.rglob("*") if p.is_file()]:
        assert canary not in path.read_bytes(), path
    assert hub.commit_requests() and all(canary not in r.body for r in hub.requests)
    assert {r.authorization for r in hub.requests if r.authorization} == {f"Bearer {TOKEN}"}
    assert all(canary not in data for data in hub.repos["org/name"].files.values())


# -- against the Hub's commit API ---------------------------------------------------------------------------


def test_first_publish_creates_the_repo_and_commits_everything_once(lake_root, tmp_path, online):
    out = tmp_path / "ds"
    CliRunner().invoke(app, ["export", "--lake", str(lake_root), "--out", str(out)])
    with FakeHub(TOKEN) as hub:
        result = publish(lake_root, hub, "--repo", "org/name", "--private")
    assert result.exit_code == 0, result.output
    repo = hub.repos["org/name"]
    assert repo.private is True
    assert len(hub.commit_requests()) == 1 and len(repo.commits) == 2  # the creation commit, then ours
    assert sorted(repo.files) == [".gitattributes", *EXPORT_FILES]
    assert all(repo.files[f] == (out / f).read_bytes() for f in EXPORT_FILES if f != "README.md")
    assert 'load_dataset("org/name", "sft", split="train")' in repo.files["README.md"].decode()
    assert f"-> {hub.endpoint}/datasets/org/name/commit/{repo.head}" in result.stdout
    parents = [line for r in hub.commit_requests() for line in r.body.splitlines()[:1]]
    assert f'"parentCommit": "{repo.commits[0][0]}"'.encode() in parents[0]


def test_republish_replaces_data_and_plots_in_the_same_commit(lake_root, online):
    with FakeHub(TOKEN) as hub:
        hub.add_repo(
            "org/name", {"data/old/train.parquet": b"x", "plots/old.png": b"y", "notes.txt": b"keep"}
        )
        result = publish(lake_root, hub, "--repo", "org/name", "--view", "sft")
    assert result.exit_code == 0, result.output
    assert len(hub.commit_requests()) == 1
    assert sorted(hub.repos["org/name"].files) == [
        "README.md",
        "data/sft/train-00000-of-00001.parquet",
        "notes.txt",
        "plots/completion_lengths.png",
        "plots/funnel.png",
        "plots/pass_rate.png",
    ]


def test_a_concurrent_push_is_refused_by_the_parent_commit_guard(lake_root, online):
    with FakeHub(TOKEN) as hub:
        hub.add_repo("org/name", {"notes.txt": b"v1"})
        hub.before_commit = lambda: hub.add_repo("org/name", {"notes.txt": b"v2"})
        result = publish(lake_root, hub, "--repo", "org/name")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: org/name changed while publishing (another commit landed first): run publish "
        "again; nothing was published\n"
    )
    assert hub.repos["org/name"].files == {"notes.txt": b"v2"}


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (
            "public",
            ["--private"],
            "error: org/name exists and is public: --private only applies when the repo is created\n",
        ),
        ("no-token", [], "error: no Hugging Face token: set HF_TOKEN or run `hf auth login`\n"),
        (
            "wrong-token",
            [],
            "error: the Hub refused the token (401): check HF_TOKEN or `hf auth login`; nothing was "
            "published\n",
        ),
        (
            "offline",
            [],
            "error: HF_HUB_OFFLINE is set: publishing needs the network (unset it); nothing was published\n",
        ),
    ],
)
def test_refusals_are_one_line_and_commit_nothing(
    lake_root, tmp_path, online, monkeypatch, setup, args, message
):
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # no stored login
    monkeypatch.setattr(huggingface_hub.constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    if setup == "no-token":
        monkeypatch.delenv("HF_TOKEN")
    if setup == "wrong-token":
        monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    if setup == "offline":
        monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with FakeHub(TOKEN) as hub:
        hub.add_repo("org/name", {"notes.txt": b"v1"})
        result = publish(lake_root, hub, "--repo", "org/name", *args)
    assert (result.exit_code, result.stderr) == (2, message)
    assert hub.commit_requests() == [] and len(hub.repos["org/name"].commits) == 1


def test_bad_repo_id_and_missing_decontamination(tmp_path, online):
    root = tmp_path / "lake"
    card_lake.build(root, decontam=False)
    with FakeHub(TOKEN) as hub:
        bad = publish(root, hub, "--repo", "not a repo")
        dry = publish(root, hub, "--repo", "org/name", "--dry-run")
    assert (bad.exit_code, bad.stderr) == (
        2,
        "error: --repo 'not a repo' is not a Hub repo id of the form ORG/NAME\n",
    )
    assert dry.exit_code == 0
    assert dry.stderr == (
        "warning: decontamination has not run for mid, sft, dpo, rl: these problems were not "
        "checked against any benchmark (run `curate decontam`); the card says so too\n"
    )
    assert hub.requests == []
