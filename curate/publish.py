"""`curate publish`: push an export of the lake's views to a Hub dataset repo in ONE commit.

Why one `create_commit`: the Hub applies a commit all at once, so readers see the previous dataset or
the new one, never half of it. `parent_commit` (the head we read before uploading) makes the Hub refuse
the commit if someone else pushed meanwhile, instead of silently mixing two versions. The repo's data/
and plots/ become exactly the export (files the export no longer has are deleted in the same commit),
so the card always describes the data next to it; files outside those folders are left alone.

The token comes from HF_TOKEN or the stored huggingface_hub login and is handed to HfApi only: it is
never printed, logged or written (error messages are scrubbed of it, to be sure).
"""

from __future__ import annotations

import contextlib
import importlib
import re
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from curate.export import build_export, resolve_views
from lakehouse.errors import UserError
from lakehouse.store import Lake

REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
MANAGED = ("data/", "plots/")  # folders an export owns on the Hub


@dataclass
class PublishConfig:
    lake: Path
    repo: str
    views: list[str]  # empty: every view in the lake
    private: bool = False
    dry_run: bool = False
    license: str = "apache-2.0"
    message: str | None = None
    endpoint: str | None = None  # Hub URL; None: HF_ENDPOINT or huggingface.co


def main(cfg: PublishConfig) -> None:
    if not REPO_ID.match(cfg.repo):
        raise UserError(f"--repo {cfg.repo!r} is not a Hub repo id of the form ORG/NAME")
    views = resolve_views(cfg.lake, cfg.views)
    _warn_if_not_decontaminated(cfg.lake, views)
    if cfg.dry_run:
        with _exported(cfg, views) as (_, files):
            _print_plan(cfg, files)
        return
    token = _token()
    try:
        url, n_files = _publish(cfg, views, token)
    except UserError as e:
        raise UserError(str(e).replace(token, "***")) from None
    print(f"published {', '.join(views)} to {cfg.repo}: {n_files} files in one commit -> {url}")


def _publish(cfg: PublishConfig, views: list[str], token: str) -> tuple[str, int]:
    from huggingface_hub import HfApi

    api = HfApi(endpoint=cfg.endpoint, token=token)
    with _hub_errors(api.endpoint, cfg.repo):
        head = _existing(api, cfg)  # access and visibility are checked before the export is built
    with _exported(cfg, views) as (folder, files), _hub_errors(api.endpoint, cfg.repo):
        parent, remote = head or _create(api, cfg)
        return _commit(api, cfg, views, folder, files, parent, remote), len(files)


@contextlib.contextmanager
def _exported(cfg: PublishConfig, views: list[str]) -> Iterator[tuple[Path, list[tuple[str, int]]]]:
    """The export in a temporary folder, removed afterwards whatever happens."""
    with tempfile.TemporaryDirectory(prefix="minireason-publish-") as tmp:
        folder = Path(tmp)
        build_export(cfg.lake, views, folder, cfg.license, cfg.repo, on_hub=True)
        yield folder, export_files(folder)


def export_files(folder: Path) -> list[tuple[str, int]]:
    """(path in repo, size in bytes) of every file of an export, sorted."""
    return sorted(
        (p.relative_to(folder).as_posix(), p.stat().st_size) for p in folder.rglob("*") if p.is_file()
    )


def _warn_if_not_decontaminated(lake_root: Path, views: list[str]) -> None:
    if not Lake(lake_root, create=False).has("decontam_report"):
        print(
            f"warning: decontamination has not run for {', '.join(views)}: these problems were not checked "
            "against any benchmark (run `curate decontam`); the card says so too",
            file=sys.stderr,
        )


def _print_plan(cfg: PublishConfig, files: list[tuple[str, int]]) -> None:
    visibility = "private" if cfg.private else "public"
    print(f"dry run: one commit to dataset {cfg.repo} ({visibility} if created); nothing is sent")
    for path, size in files:
        print(f"  add {path} ({size:,} bytes)")
    total = sum(size for _, size in files)
    print(f"{len(files)} files, {total:,} bytes ({total / 1e6:.2f} MB)")


def _token() -> str:
    from huggingface_hub import get_token

    token = get_token()
    if not token:
        raise UserError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return token


def _commit(
    api, cfg, views: list[str], folder: Path, files: list[tuple[str, int]], parent: str, remote: list[str]
) -> str:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    local = {path for path, _ in files}
    stale = [p for p in remote if p.startswith(MANAGED) and p not in local]
    operations = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=str(folder / p)) for p, _ in files]
    operations += [CommitOperationDelete(path_in_repo=p) for p in stale]
    info = api.create_commit(
        cfg.repo,
        operations,
        commit_message=cfg.message or f"Publish {', '.join(views)} (minireason)",
        repo_type="dataset",
        parent_commit=parent,
    )
    return info.commit_url


def _existing(api, cfg: PublishConfig) -> tuple[str, list[str]] | None:
    """(head commit, files) of the repo, or None when it does not exist yet."""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        info = api.repo_info(cfg.repo, repo_type="dataset")
    except RepositoryNotFoundError:
        return None
    if cfg.private and not info.private:
        raise UserError(f"{cfg.repo} exists and is public: --private only applies when the repo is created")
    return info.sha, [s.rfilename for s in info.siblings or []]


def _create(api, cfg: PublishConfig) -> tuple[str, list[str]]:
    """Create the repo with the requested visibility; its first commit becomes the parent."""
    api.create_repo(cfg.repo, repo_type="dataset", private=cfg.private)
    info = api.repo_info(cfg.repo, repo_type="dataset")
    return info.sha, [s.rfilename for s in info.siblings or []]


@contextlib.contextmanager
def _hub_errors(endpoint: str, repo: str) -> Iterator[None]:
    """Network and Hub failures become one-line UserErrors (nothing was committed in any of them);
    anything else is a bug and keeps its traceback."""
    try:
        yield
    except UserError:
        raise
    except Exception as error:
        message = _describe(error, endpoint, repo)
        if message is None:
            raise
        raise UserError(message) from None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level failures: OSError and the HTTP client's own errors (huggingface_hub 2 uses
    httpx2, older releases httpx)."""
    kinds: list[type[BaseException]] = [OSError]
    for name in ("httpx2", "httpx"):
        try:
            kinds.append(importlib.import_module(name).HTTPError)
        except ImportError:
            continue
    return tuple(kinds)


def _describe(error: BaseException, endpoint: str, repo: str) -> str | None:
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    first = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if isinstance(error, OfflineModeIsEnabled):
        return "HF_HUB_OFFLINE is set: publishing needs the network (unset it); nothing was published"
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        reasons = {
            401: "the Hub refused the token (401): check HF_TOKEN or `hf auth login`",
            403: f"no write access to {repo} (403)",
            412: f"{repo} changed while publishing (another commit landed first): run publish again",
        }
        return reasons.get(status, f"the Hub answered {status}: {first}") + "; nothing was published"
    if isinstance(error, _transport_errors()):
        return f"cannot reach the Hub at {endpoint}: {first}; nothing was published"
    return None
