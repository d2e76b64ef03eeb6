"""User mistakes are reported as one line and exit code 2, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user: the CLI prints `error: <message>` and exits 2."""
