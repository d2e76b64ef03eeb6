"""Progress display for generation: done/total, samples/s, tokens/s, spent/budget, ETA (rich)."""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)


class GenerateProgress:
    def __init__(self, total: int, enabled: bool = True, budget_usd: float | None = None):
        self.total = total
        self.budget = budget_usd
        self.enabled = enabled and total > 0
        self._tokens = 0
        self._done = 0
        self._start = time.monotonic()
        self._last = 0.0
        self._pending = 0
        self._progress = Progress(
            TextColumn("[bold]generate"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            disable=not self.enabled,
            refresh_per_second=4,
        )
        self._task = None

    def __enter__(self) -> GenerateProgress:
        self._progress.__enter__()
        self._task = self._progress.add_task("generate", total=self.total, rate="")
        return self

    def __exit__(self, *exc) -> None:
        self._progress.__exit__(*exc)

    def advance(self, tokens: int, spent_usd: float) -> None:
        self._done += 1
        self._tokens += tokens
        self._pending += 1
        now = time.monotonic()
        if not self.enabled or (now - self._last < 0.1 and self._done < self.total):
            return  # redraws are throttled: a fast teacher must not pay for the bar
        self._last = now
        elapsed = max(now - self._start, 1e-9)
        rate = f"{self._done / elapsed:.1f} samples/s · {self._tokens / elapsed:,.0f} tok/s"
        if self.budget is not None:
            rate += f" · ${spent_usd:.2f}/${self.budget:.2f}"
        self._progress.update(self._task, advance=self._pending, rate=rate)
        self._pending = 0
