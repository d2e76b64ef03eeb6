"""`curate`: turn rollouts into training sets, query the lake with SQL, publish datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from curate.config import DecontamConfig, DedupConfig
from curate.verify_config import VerifyConfig
from lakehouse.cli import user_errors
from lakehouse.options import options_from, overrides_from

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
    timeout: float = typer.Option(300.0, "--timeout", help="Interrupt the query after this many seconds."),
    lake: Path = LakeOpt,
) -> None:
    """Run read-only SQL over the lake (views: problems, traces, verdicts, problem_stats, mid, sft, dpo, rl, evals, eval_samples, ...).

    Example:  curate sql "select finish_reason, count(*) from traces group by 1" --format csv
    """
    from curate.sql_cmd import main

    main(lake, query, fmt, out, timeout)


@app.command()
@user_errors
def stats(
    check: bool = typer.Option(False, "--check", help="Also verify every shard against its manifest sha256."),
    lake: Path = LakeOpt,
) -> None:
    """Rows per lake table, then the verification and curation summaries when they exist.

    Example:  curate stats --lake lake --check
    """
    from curate.stats import check_main, main

    if check:
        check_main(lake)
    main(lake)


@app.command()
@user_errors
@options_from(VerifyConfig)
def verify(cfg: VerifyConfig) -> None:
    """Verify every trace that has no verdict yet (math-verify on a pool with hard limits); writes `verdicts`.

    Bands in the problem_stats view: unsolved (pass rate 0), hard (< --hard-below), medium (< --medium-below),
    easy (< 1), trivial (1). With --judge, an LLM judge decides where math-verify could not (no parseable
    answer, or incorrect on an answer that looks mathematical); `verdicts.verifier` says which decided.

    Example:  curate verify --lake lake && curate sql "select band, count(*) from problem_stats group by band"
              curate verify --judge openai:gpt-4.1-mini --judge-budget-usd 2
    """
    from curate.verify import NEEDS_TRACES, main
    from curate.verify import _check as check_options
    from lakehouse.store import existing_lake

    check_options(cfg)  # before the lock: bad options touch nothing in the lake, not even the lock file
    with existing_lake(cfg.lake, hint=NEEDS_TRACES).writer("curate verify"):
        main(cfg)


@app.command()
@user_errors
def audit(
    n: int = typer.Option(50, "--n", help="How many judge decisions to show."),
    seed: int = typer.Option(0, "--seed", help="Which sample (the same seed shows the same cases)."),
    lake: Path = LakeOpt,
) -> None:
    """Print a sample of the LLM judge's decisions (problem, gold, answer, both verdicts) to check by hand.

    Example:  curate audit --n 50 --lake lake
    """
    from curate.audit import main

    typer.echo(main(lake, n, seed))


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


ConfigOpt = typer.Option(
    None, "--config", help="A curate.yaml overriding the shipped defaults (curate/curate.yaml)."
)


@app.command("run")
@user_errors
def run_cmd(
    config: Path | None = ConfigOpt,
    verify: bool = typer.Option(True, "--verify/--no-verify", help="Verify new traces first."),
    lake: Path = LakeOpt,
) -> None:
    """verify -> problem stats -> dedup -> decontam -> filters -> views; prints and stores the funnel.

    Incremental: only new traces are verified and filtered; with nothing new, nothing changes.

    Example:  curate run --config curate/curate.yaml --lake lake
    """
    from curate.config import load_config
    from curate.pipeline import main

    cfg = load_config(config, lake)
    cfg.verify = verify
    main(cfg)


@app.command()
@user_errors
@overrides_from(DedupConfig)
def dedup(given: dict, config: Path | None = ConfigOpt, lake: Path = LakeOpt) -> None:
    """Exact (normalised text, DuckDB) and MinHash near-duplicate problem dedup on datatrove's pipeline.

    Options override the config file's `dedup:` settings.

    Example:  curate dedup --executor local --tasks 4 --workers 2 --bands 16 --rows 7
    """
    from curate.config import load_config
    from curate.pipeline import dedup_main

    cfg = load_config(config, lake)
    for name, value in given.items():
        setattr(cfg.dedup, name, value)
    dedup_main(cfg)


@app.command()
@user_errors
@overrides_from(DecontamConfig)
def decontam(given: dict, config: Path | None = ConfigOpt, lake: Path = LakeOpt) -> None:
    """Drop training problems that copy a benchmark item; per-benchmark report in the lake.

    Options override the config file's `decontam:` settings.

    Example:  curate decontam --benchmarks math500,aime24 --ngram 13
    """
    from curate.config import load_config
    from curate.pipeline import decontam_main

    cfg = load_config(config, lake)
    for name, value in given.items():
        setattr(cfg.decontam, name, list(value) if isinstance(value, tuple) else value)
    decontam_main(cfg)


@app.command()
@user_errors
def benchmarks() -> None:
    """List the registered benchmark sets: rows, fields, k, source and license.

    Example:  curate benchmarks   (then: curate decontam --benchmarks math500,aime24; train eval --benchmark gsm8k)
    """
    from problemsets.listing import main

    main()


@app.command("filter")
@user_errors
def filter_cmd(config: Path | None = ConfigOpt, lake: Path = LakeOpt) -> None:
    """Run the trace filters (finish reason, boxed answer, reasoning, length, repetition, visible answer).

    Example:  curate filter --config curate/curate.yaml --lake lake
    """
    from curate.config import load_config
    from curate.pipeline import filter_main

    filter_main(load_config(config, lake))


@app.command("views")
@user_errors
def views_cmd(config: Path | None = ConfigOpt, lake: Path = LakeOpt) -> None:
    """Build the mid, sft, dpo and rl views (TRL formats) from verified traces; needs `curate verify` first.

    Example:  curate views --lake lake && curate sql "select count(*) from dpo"
    """
    from curate.config import load_config
    from curate.pipeline import views_main

    views_main(load_config(config, lake))


def run() -> None:  # console entry for `python -m curate.cli`
    app()


if __name__ == "__main__":
    sys.exit(app())
