"""`curate`: turn rollouts into training sets, query the lake with SQL, publish datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from lake.cli import user_errors

app = typer.Typer(
    help="Turn rollouts into training sets and query the lake.\n\n"
    'Example:  curate run && curate sql "select level, avg(pass_rate) from problem_stats join problems using (problem_id) group by level"',
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LakeOpt = typer.Option(Path("lake"), "--lake", help="Lake directory.")


@app.command()
@user_errors
def sql(
    query: str = typer.Argument(..., help="One read-only SQL statement over the lake's views."),
    fmt: str = typer.Option("table", "--format", help="table | csv | json | parquet"),
    out: Path | None = typer.Option(None, "--out", help="Write the result to this file instead of stdout."),
    lake: Path = LakeOpt,
) -> None:
    """Run read-only SQL over the lake (views: problems, traces, verdicts, problem_stats, mid, sft, dpo, rl, evals, ...).

    Example:  curate sql "select finish_reason, count(*) from traces group by 1" --format csv
    """
    from curate.sql_cmd import main

    main(lake, query, fmt, out)


@app.command()
@user_errors
def stats(lake: Path = LakeOpt) -> None:
    """Rows per lake table, then the verification and curation summaries when they exist.

    Example:  curate stats --lake lake
    """
    from curate.stats import main

    main(lake)


ViewsOpt = typer.Option([], "--view", help="A view to include (repeat for several); default: every view.")
LicenseOpt = typer.Option("apache-2.0", "--license", help="License id written into the card's metadata.")


@app.command()
@user_errors
def card(views: list[str] = ViewsOpt, license: str = LicenseOpt, lake: Path = LakeOpt) -> None:
    """Write a dataset card (README.md with statistics and provenance) and its plots into each view's folder.

    Example:  curate card --view sft --lake lake
    """
    from curate.export import CardConfig, card_main

    card_main(CardConfig(lake=lake, views=views, license=license))


@app.command()
@user_errors
def export(
    out: Path = typer.Option(..., "--out", help="Folder to write (parquet per view + card + plots)."),
    views: list[str] = ViewsOpt,
    force: bool = typer.Option(False, "--force", help="Replace OUT if it exists and is not empty."),
    license: str = LicenseOpt,
    lake: Path = LakeOpt,
) -> None:
    """Write a self-contained dataset folder: `load_dataset(OUT, "sft")` loads each view.

    Example:  curate export --view sft --view dpo --out export
    """
    from curate.export import ExportConfig, export_main

    export_main(ExportConfig(lake=lake, out=out, views=views, force=force, license=license))


@app.command()
@user_errors
def publish(
    repo: str = typer.Option(..., "--repo", help="Hub dataset repo id, ORG/NAME."),
    views: list[str] = ViewsOpt,
    private: bool = typer.Option(False, "--private", help="Create the repo as private."),
    dry_run: bool = typer.Option(False, "--dry-run", help="List the commit's files and sizes; send nothing."),
    message: str | None = typer.Option(None, "--message", help="Commit message."),
    endpoint: str | None = typer.Option(
        None, "--endpoint", help="Hub URL (default: HF_ENDPOINT or huggingface.co)."
    ),
    license: str = LicenseOpt,
    lake: Path = LakeOpt,
) -> None:
    """Publish views to a Hub dataset repo in one commit (token: HF_TOKEN or `hf auth login`).

    The repo's data/ and plots/ become exactly these views and their card; nothing is half-published.

    Example:  curate publish --view sft --repo my-org/minireason-sft --private --dry-run
    """
    from curate.publish import PublishConfig, main

    cfg = PublishConfig(
        lake=lake,
        repo=repo,
        views=views,
        private=private,
        dry_run=dry_run,
        license=license,
        message=message,
        endpoint=endpoint,
    )
    main(cfg)


def run() -> None:  # console entry for `python -m curate.cli`
    app()


if __name__ == "__main__":
    sys.exit(app())
