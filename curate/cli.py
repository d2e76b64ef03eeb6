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


def run() -> None:  # console entry for `python -m curate.cli`
    app()


if __name__ == "__main__":
    sys.exit(app())
