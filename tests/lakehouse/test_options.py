"""lakehouse/options.py: a typer command's options generated from a typed config (nested configs,
a flag shared by two fields, text parsed into a field, required fields, switches)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import typer
from typer.testing import CliRunner

from lakehouse.options import options, options_from


@dataclass
class Engine:
    batch_size: int = field(default=8, metadata={"flag": "--batch-size", "help": "Units per batch."})
    eager: bool = False


@dataclass
class Other:
    batch_size: int = field(default=8, metadata={"flag": "--batch-size", "help": "Units per batch."})


@dataclass
class Config:
    source: str = field(metadata={"help": "Where from."})
    shard: tuple[int, int] = field(
        default=(0, 1), metadata={"flag": "--shard", "parse": lambda t: tuple(int(x) for x in t.split("/"))}
    )
    limit: int | None = None
    use_n: bool | None = field(default=None, metadata={"flag": "--use-n/--no-use-n"})
    engine: Engine = field(default_factory=Engine)
    other: Other = field(default_factory=Other)
    hidden: str = field(default="x", metadata={"cli": False})


app = typer.Typer(add_completion=False)


@app.command()
@options_from(Config)
def show(cfg: Config) -> None:
    typer.echo(repr(cfg))


def invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def test_one_option_per_flag_in_declaration_order():
    assert {name: [leaf.path for leaf in group] for name, group in options(Config).items()} == {
        "source": [("source",)],
        "shard": [("shard",)],
        "limit": [("limit",)],
        "use_n": [("use_n",)],
        "batch_size": [("engine", "batch_size"), ("other", "batch_size")],
        "eager": [("engine", "eager")],
    }


@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--source", "a"],
            "Config(source='a', shard=(0, 1), limit=None, use_n=None, engine=Engine(batch_size=8, eager=False), "
            "other=Other(batch_size=8), hidden='x')",
        ),
        (
            ["--source", "b", "--shard", "2/4", "--limit", "3", "--no-use-n", "--batch-size", "5", "--eager"],
            "Config(source='b', shard=(2, 4), limit=3, use_n=False, engine=Engine(batch_size=5, eager=True), "
            "other=Other(batch_size=5), hidden='x')",
        ),
    ],
)
def test_the_command_builds_the_config(args, expected):
    out = invoke(*args)
    assert out.exit_code == 0, out.output
    assert out.output.strip() == expected


def test_a_required_field_is_a_required_option():
    out = invoke("--limit", "3")
    assert out.exit_code == 2 and "--source" in out.output


@dataclass
class Small:
    batch_size: int = field(default=4, metadata={"flag": "--batch-size"})


@dataclass
class Clash:
    engine: Engine = field(default_factory=Engine)
    small: Small = field(default_factory=Small)


def test_fields_sharing_a_flag_must_agree():
    with pytest.raises(TypeError, match="--batch-size"):
        options(Clash)
