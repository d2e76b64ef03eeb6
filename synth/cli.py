"""`synth`: build problem sets and distil teacher rollouts into the lake.

Each command's options are generated from its typed config (lakehouse/options.py): synth/problems.py
ProblemsConfig, synth/config.py GenerateConfig with the backends' configs (sampling/config.py)."""

from __future__ import annotations

from pathlib import Path

import typer

from lakehouse.cli import user_errors
from lakehouse.options import options_from
from synth.config import GenerateConfig
from synth.problems import ProblemsConfig

app = typer.Typer(
    help="Build problem sets and distil teacher rollouts into the lake.\n\n"
    "Example:  synth problems --source builtin:arith --n 1000 && synth generate --teacher procedural --samples 4",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
@user_errors
@options_from(ProblemsConfig)
def problems(cfg: ProblemsConfig) -> None:
    """Import or generate problems into LAKE/problems.

    Example:  synth problems --source builtin:arith --n 1000 --seed 0
              synth problems --source bench:math500 --lake bench_lake
    """
    from synth.problems import main

    typer.echo(main(cfg))


@app.command()
@user_errors
@options_from(GenerateConfig)
def generate(cfg: GenerateConfig) -> None:
    """Distil rollouts from a teacher into LAKE/traces, exactly once per (run, problem, sample).

    Example:  synth generate --teacher procedural --samples 4 --run demo
              synth generate --teacher openai:deepseek-reasoner --base-url https://api.example.com/v1 --budget-usd 20
    """
    from synth.generate import main

    if cfg.executor != "none":
        from synth.executors import run_sharded

        typer.echo(run_sharded(cfg))
        return
    summary = main(cfg)
    typer.echo(summary.line())
    for line in summary.error_lines():
        typer.echo(line, err=True)
    if summary.stopped == "interrupted":
        raise typer.Exit(130)
    if summary.all_failed:
        raise typer.Exit(1)  # every unit failed: the lines above say why


@app.command()
@user_errors
def status(lake: Path = typer.Option(Path("lake"), "--lake", help="Lake directory.")) -> None:
    """Per run: done/total samples, tokens, cost, failed units.

    Example:  synth status --lake lake
    """
    from synth.status import main

    typer.echo(main(lake))


if __name__ == "__main__":
    app()
