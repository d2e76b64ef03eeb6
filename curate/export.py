"""`curate card` (card + plots into each view's folder) and `curate export` (a self-contained dataset folder).

An export is a folder the Hub and `datasets` understand as is:
    README.md                                  card, YAML `configs` with one entry per view
    data/<view>/train-00000-of-0000N.parquet   the view's shards, copied and checked against the manifest
    plots/*.png                                figures the card shows
It is built in a hidden sibling folder and renamed into place, so a failed export leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import curate.sql_views  # noqa: F401  (the card reads problem_stats)
from data_cards.plots import write_plots
from data_cards.render import CardLayout, render
from data_cards.stats import collect
from lakehouse.errors import UserError
from lakehouse.store import Lake, atomic_write_bytes, existing_lake, sha256_file

PLOTS = "plots"
MARKER = ".minireason-export"  # written into every export: `--force` replaces only a folder holding one


@dataclass
class ExportConfig:
    lake: Path
    out: Path
    views: list[str]  # empty: every view in the lake
    force: bool = False  # replace an existing, non-empty `out` that is an earlier export
    license: str = "apache-2.0"
    repo: str | None = None  # Hub repo id for the card's snippets (publish); None: the folder itself


@dataclass
class CardConfig:
    lake: Path
    views: list[str]  # empty: every view in the lake
    license: str = "apache-2.0"


def resolve_views(lake_root: Path, requested: list[str]) -> list[str]:
    """The requested views (checked to exist and hold rows), or every view with rows. An empty view is
    left out of an export: a config whose files hold no rows does not load with `datasets`."""
    lake = existing_lake(lake_root, hint="pass --lake")
    available = [t.split("/", 1)[1] for t in lake.tables() if t.startswith("views/") and lake.has(t)]
    order = {"mid": 0, "sft": 1, "dpo": 2, "rl": 3}
    available.sort(key=lambda v: (order.get(v, 9), v))
    for v in requested:
        if v not in available:
            have = ", ".join(available) or "none"
            raise UserError(f"view {v!r} does not exist in {lake_root} (views there: {have})")
        if not lake.rows(f"views/{v}"):
            raise UserError(f"view {v!r} has no rows: nothing to export (see the funnel: `curate stats`)")
    if requested:
        return list(dict.fromkeys(requested))
    empty = [v for v in available if not lake.rows(f"views/{v}")]
    if empty:
        print(f"note: leaving out empty view(s) {', '.join(empty)}", file=sys.stderr)
    chosen = [v for v in available if v not in empty]
    if not chosen:
        raise UserError(f"{lake_root} has no views with rows yet (run `curate run` or `curate views` first)")
    return chosen


# -- export -----------------------------------------------------------------------------------------------


def export_main(cfg: ExportConfig) -> list[Path]:
    views = resolve_views(cfg.lake, cfg.views)
    out = cfg.out
    check_out(out, cfg.lake, cfg.force)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    staging.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the export is an ordinary folder
    try:
        build_export(cfg.lake, views, staging, cfg.license, cfg.repo or str(out), on_hub=cfg.repo is not None)
        (staging / MARKER).write_text("written by `curate export`; `curate export --force` may replace it\n")
        _swap_into_place(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    files = sorted(p for p in out.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in files)
    print(f"exported {', '.join(views)}: {len(files)} files, {size / 1e6:.2f} MB -> {out}/README.md")
    return files


def check_out(out: Path, lake: Path, force: bool) -> None:
    """`out` may be new, empty, or (with --force) an earlier export; never the lake, a folder inside it
    or above it, or the working directory or one above it, whatever --force says."""
    target, root, cwd = out.resolve(), lake.resolve(), Path.cwd().resolve()
    if target == root or target in root.parents or root in target.parents:
        raise UserError(f"--out {out}: the export cannot be the lake {lake}, inside it or a folder above it")
    if target == cwd or target in cwd.parents:
        raise UserError(f"--out {out} is the working directory or above it: choose a new folder")
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return
    if not force:
        raise UserError(f"{out} exists and is not empty (pass --force to replace an earlier export)")
    if not (out.is_dir() and (out / MARKER).is_file()):
        raise UserError(f"--force replaces only an earlier export, and {out} is not one (no {MARKER})")


def build_export(
    lake_root: Path, views: list[str], dest: Path, license: str, dataset_ref: str, on_hub: bool
) -> None:
    """Write the export's files into the (empty) folder `dest`. The card's snippets load `dataset_ref`:
    a Hub repo id (`on_hub`) or the folder the export will end up in."""
    lake = Lake(lake_root, create=False)
    data_files = {}
    for v in views:  # copied (and checked) before anything reads them
        _copy_shards(lake, v, dest / "data" / v)
        data_files[v] = f"data/{v}/*.parquet"
    stats = collect(lake_root, views)
    plots = write_plots(stats, dest / PLOTS)
    layout = CardLayout(
        data_files=data_files,
        plots={name: f"{PLOTS}/{p.name}" for name, p in plots.items()},
        dataset_ref=dataset_ref,
        on_hub=on_hub,
        license=license,
    )
    (dest / "README.md").write_text(str(render(stats, layout)), encoding="utf-8")


def _copy_shards(lake: Lake, view: str, folder: Path) -> None:
    """Copy the manifest's shards under the Hub's split naming; a shard whose bytes no longer match
    its manifest sha256 is refused, so an export never ships data the lake did not commit."""
    folder.mkdir(parents=True)
    shards = lake.manifest(f"views/{view}")["shards"]
    for i, entry in enumerate(shards):
        src = lake.path(f"views/{view}") / entry["file"]
        dst = folder / f"train-{i:05d}-of-{len(shards):05d}.parquet"
        shutil.copyfile(src, dst)
        if sha256_file(dst) != entry["sha256"]:
            raise UserError(
                f"{src}: content does not match its manifest sha256 (modified after it was written)"
            )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename the finished export to `out`; an old `out` is moved aside first and removed after."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old) if old.is_dir() else old.unlink()


# -- card into the lake's view folders ----------------------------------------------------------------------


def card_main(cfg: CardConfig) -> list[Path]:
    """Write README.md and plots/ into each view's folder; the card's data_files are the manifest's shards."""
    views = resolve_views(cfg.lake, cfg.views)
    with Lake(cfg.lake, create=False).writer("curate card"):  # writes into the views' folders
        return _cards(cfg, views)


def _cards(cfg: CardConfig, views: list[str]) -> list[Path]:
    lake = Lake(cfg.lake, create=False)
    written = []
    for v in views:
        folder = lake.path(f"views/{v}")
        stats = collect(cfg.lake, [v])
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=".plots."))
        staging.chmod(0o777 & ~_umask())
        try:
            plots = write_plots(stats, staging)
            _swap_into_place(staging, folder / PLOTS)  # figures of an older card go with it
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        layout = CardLayout(
            data_files={v: [f.relative_to(folder).as_posix() for f in stats.views[0].files]},
            plots={name: f"{PLOTS}/{p.name}" for name, p in plots.items()},
            dataset_ref=str(folder),
            license=cfg.license,
        )
        atomic_write_bytes(folder / "README.md", str(render(stats, layout)).encode("utf-8"))
        written.append(folder / "README.md")
        print(f"card for {v}: {folder / 'README.md'} ({len(plots)} plots)")
    return written
