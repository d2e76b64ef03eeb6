"""Shared command-line plumbing: one-line errors with exit code 2 for user mistakes."""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from typing import TypeVar

import typer

from lakehouse.errors import UserError

F = TypeVar("F", bound=Callable)


def user_errors(fn: F) -> F:
    """Wrap a CLI command: UserError (and bad files) become `error: ...` on stderr, exit 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.echo("interrupted", err=True)
            raise typer.Exit(130) from None
        except OSError as e:
            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            # Writes are atomic (temporary name, rename), so nothing half-written is visible; say where.
            target = e.filename or _lake_of(kwargs)  # a journal's os.write names no file: the lake then
            where = f" writing {target} (disk mounted at {_mount_point(target)})" if target else ""
            typer.echo(f"error: no space left on device{where}: free space and re-run", err=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def _lake_of(kwargs: dict) -> str | None:
    """The command's --lake, whether an option of its own or a field of its typed config."""
    lake = kwargs.get("lake") or getattr(kwargs.get("cfg"), "lake", None)
    return str(lake) if lake is not None else None


def _mount_point(path) -> str:
    p = os.path.abspath(path)
    while not os.path.ismount(p):
        p = os.path.dirname(p)
    return p


def fail(message: str) -> None:
    """Print a one-line error and exit 2 (for code outside a wrapped command)."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(2)
