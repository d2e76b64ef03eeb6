"""Command-line options generated from a typed config, so a command's flags and its config cannot drift.

Every field of the config dataclass is an option; a field whose default is itself a dataclass (a
backend's config) contributes its own fields. A field's metadata may set:
  flag   the option's name (default: --field-name); "--x/--no-x" for a switch
  help   the option's help
  parse  a function from the flag's text to the field's value (e.g. "0/4" -> (0, 4)); the option is
         then text, and leaving it out keeps the field's default
  cli    False: not an option
Two fields may share one flag (e.g. --batch-size for the vllm and hf configs): one option sets both.

    @app.command()
    @user_errors
    @options_from(GenerateConfig)
    def generate(cfg: GenerateConfig) -> None:
        ...

typer is imported when a command is built, not when a config module imports `opt`.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field
from typing import Any, TypeVar, get_type_hints

T = TypeVar("T")


def opt(default: Any, flag: str, help: str, **metadata: Any):
    """A config field that is also a command-line option (immutable defaults only)."""
    return field(default=default, metadata={"flag": flag, "help": help, **metadata})


@dataclass(frozen=True)
class Leaf:
    """One option-carrying field, at `path` inside the config (("openai", "base_url"))."""

    path: tuple[str, ...]
    hint: Any
    default: Any  # MISSING: required
    flag: str
    help: str
    parse: Callable[[str], Any] | None

    @property
    def param(self) -> str:
        """The Python parameter typer passes it as: the flag's first name, snake-cased."""
        return self.flag.split("/")[0].lstrip("-").replace("-", "_")


def leaves(cls: type, prefix: tuple[str, ...] = ()) -> list[Leaf]:
    hints = get_type_hints(cls)
    out: list[Leaf] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("cli", True) is False:
            continue
        default = f.default_factory() if f.default_factory is not MISSING else f.default
        if dataclasses.is_dataclass(default):
            out += leaves(type(default), prefix + (f.name,))
            continue
        flag = f.metadata.get("flag", "--" + f.name.replace("_", "-"))
        out.append(
            Leaf(
                prefix + (f.name,),
                hints[f.name],
                default,
                flag,
                f.metadata.get("help", ""),
                f.metadata.get("parse"),
            )
        )
    return out


def options(cls: type) -> dict[str, list[Leaf]]:
    """Parameter name -> the fields it sets, in declaration order; a flag shared by fields that
    disagree on type or default is a programming error."""
    grouped: dict[str, list[Leaf]] = {}
    for leaf in leaves(cls):
        grouped.setdefault(leaf.param, []).append(leaf)
    for group in grouped.values():
        first = group[0]
        if any((g.hint, g.default, g.flag) != (first.hint, first.default, first.flag) for g in group):
            raise TypeError(
                f"{cls.__name__}: fields sharing {first.flag} disagree: {[g.path for g in group]}"
            )
    return grouped


def build(cls: type[T], values: dict[tuple[str, ...], Any], prefix: tuple[str, ...] = ()) -> T:
    """`cls` with the given field values (by path); fields not given keep their defaults."""
    kwargs = {}
    for f in dataclasses.fields(cls):
        path = prefix + (f.name,)
        if path in values:
            kwargs[f.name] = values[path]
        elif f.default_factory is not MISSING and dataclasses.is_dataclass(default := f.default_factory()):
            kwargs[f.name] = build(type(default), values, path)
    return cls(**kwargs)


def options_from(cls: type[T]) -> Callable[[Callable[[T], Any]], Callable[..., Any]]:
    """Turn `fn(cfg: cls)` into a typer command function whose options are cls's fields."""
    import typer

    grouped = options(cls)
    params = []
    for name, (leaf, *_) in grouped.items():
        if leaf.parse is not None:  # text on the command line; None keeps the field's default
            default, hint = None, str | None
        else:
            default, hint = (... if leaf.default is MISSING else leaf.default), leaf.hint
        option = typer.Option(default, leaf.flag, help=leaf.help)
        params.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=hint)
        )

    def decorate(fn: Callable[[T], Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def command(**given: Any) -> Any:
            values = {}
            for name, value in given.items():
                for leaf in grouped[name]:
                    if leaf.parse is None:
                        values[leaf.path] = value
                    elif value is not None:
                        values[leaf.path] = leaf.parse(value)
            return fn(build(cls, values))

        # what typer reads instead of fn's signature and annotations
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: p.annotation for p in params}
        return command

    return decorate


def overrides_from(cls: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Options for a config that a YAML file fills first (YAML < command line): every field of `cls`
    is an option that defaults to "not given", and `fn(given, **its own options)` receives the given ones
    as {field name: value} to set on the loaded config. `fn`'s own parameters after `given` (e.g.
    --config, --lake) stay as it declares them."""
    import typer

    fields = leaves(cls)

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for p in list(inspect.signature(fn).parameters.values())[1:]
        ]
        hints = get_type_hints(fn)
        generated = [
            inspect.Parameter(
                leaf.param,
                inspect.Parameter.KEYWORD_ONLY,
                default=typer.Option(None, leaf.flag, help=leaf.help),
                annotation=leaf.hint | None,
            )
            for leaf in fields
        ]

        @functools.wraps(fn)
        def command(**given: Any) -> Any:
            values = {leaf.path[-1]: given.pop(leaf.param) for leaf in fields}
            return fn({k: v for k, v in values.items() if v not in (None, [])}, **given)

        params = own + generated
        command.__signature__ = inspect.Signature(params)
        command.__annotations__ = {p.name: hints.get(p.name, p.annotation) for p in params}
        return command

    return decorate
