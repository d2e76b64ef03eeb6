"""The card's figures, as PNG files: completion lengths per view, pass-rate distribution, drop-reason funnel.

matplotlib runs on the Agg backend (no display needed) and writes no free-form metadata: the PNG carries
only a fixed Software tag, so nothing from the environment can end up in a published image.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from data_cards.stats import CardStats, FunnelRow, LengthSeries  # noqa: E402

DPI = 110
PNG_METADATA = {"Software": "minireason data_cards (matplotlib)"}
COLORS = ["#3b6ea8", "#e07b39", "#4f9d69", "#b5485d", "#7d5ba6", "#8c8c8c"]


def write_plots(stats: CardStats, folder: Path) -> dict[str, Path]:
    """Draw every figure the data allows; return {figure name: path}. Missing inputs mean no figure."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    series = [s for v in stats.views for s in v.lengths]
    if series:
        written["lengths"] = _save(length_histogram(series), folder / "completion_lengths.png")
    if stats.pass_rates:
        written["pass_rate"] = _save(pass_rate_histogram(stats.pass_rates), folder / "pass_rate.png")
    if stats.funnel:
        written["funnel"] = _save(funnel_chart(stats.funnel), folder / "funnel.png")
    return written


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    plt.close(fig)
    return path


def length_histogram(series: list[LengthSeries]) -> plt.Figure:
    """One panel per view (dpo: chosen and rejected), on shared bins so the panels compare directly."""
    fig, axes = plt.subplots(
        len(series), 1, figsize=(8, 1.5 + 1.7 * len(series)), sharex=True, layout="constrained", squeeze=False
    )
    bins = _bins(np.concatenate([np.asarray(s.values, dtype=float) for s in series]))
    for ax, color, s in zip(axes[:, 0], COLORS * 4, series, strict=False):
        median = float(np.median(s.values))
        ax.hist(s.values, bins=bins, color=color, alpha=0.85)
        ax.axvline(median, color="black", linestyle=":", linewidth=1.2)
        ax.set_title(
            f"{s.label}: {len(s.values):,} rows, median {median:,.0f} {s.unit}", fontsize=10, loc="left"
        )
        ax.set_ylabel("rows")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    units = sorted({s.unit for s in series})
    axes[-1, 0].set_xlabel(f"completion length ({' / '.join(units)}); dotted line: median")
    fig.suptitle("Completion length per view")
    return fig


def _bins(values: np.ndarray) -> np.ndarray:
    """One bar per length when lengths are few (short traces), else at most 40 shared bins."""
    low, high = values.min(), values.max()
    if high - low <= 40:
        return np.arange(low - 0.5, high + 1.5)
    return np.histogram_bin_edges(values, bins=40)


def pass_rate_histogram(rates: list[float]) -> plt.Figure:
    """Problems per pass rate. With few samples per problem the rates take few values: one bar each;
    otherwise ten bins, with the all-wrong and all-right ends kept as their own bars."""
    fig, ax = plt.subplots(figsize=(8, 4.5), layout="constrained")
    r = np.round(np.asarray(rates, dtype=float), 6)
    distinct = np.unique(r)
    if len(distinct) <= 17:
        labels = [f"{v:.3g}" for v in distinct]
        heights = [int((r == v).sum()) for v in distinct]
        ends = list(distinct)
    else:
        edges = np.linspace(0.0, 1.0, 11)
        counts, _ = np.histogram(r[(r > 0) & (r < 1)], bins=edges)
        labels = ["0"] + [f"{a:.1f}-{b:.1f}" for a, b in zip(edges[:-1], edges[1:], strict=True)] + ["1"]
        heights = [int((r == 0).sum()), *counts.tolist(), int((r == 1).sum())]
        ends = [0.0] + [0.5] * len(counts) + [1.0]
    colors = ["#b5485d" if v == 0 else "#4f9d69" if v == 1 else COLORS[0] for v in ends]
    bars = ax.bar(range(len(heights)), heights, color=colors)
    ax.bar_label(bars, labels=[f"{h:,}" if h else "" for h in heights], padding=2, fontsize=8)
    ax.set_xticks(range(len(heights)), labels, rotation=30 if len(labels) > 9 else 0, fontsize=9)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"Teacher pass rate per problem ({len(r):,} problems; red: never solved, green: always)")
    ax.set_xlabel("pass rate (share of a problem's samples verified correct)")
    ax.set_ylabel("problems")
    ax.margins(y=0.12)
    return fig


def funnel_chart(funnel: list[FunnelRow]) -> plt.Figure:
    """Left: share of each step's input it kept (steps count traces or problems, so shares compare where
    raw counts would not). Right: rows dropped, per step and reason, with the unit in the label."""
    steps: dict[str, FunnelRow] = {}
    drops: list[tuple[str, int]] = []
    for row in funnel:
        steps.setdefault(row.step, row)
        if row.reason and row.count:
            drops.append((f"{row.step}: {row.reason} ({row.unit})", row.count))
    height = max(3.5, 0.45 * max(len(steps), len(drops)) + 1.6)
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, height), layout="constrained")
    names = list(steps)
    shares = [100.0 * steps[s].rows_out / steps[s].rows_in if steps[s].rows_in else 100.0 for s in names]
    bars = left.barh(names, shares, color=COLORS[0])
    labels = [f"{steps[s].rows_out:,} of {steps[s].rows_in:,} {steps[s].unit}" for s in names]
    left.bar_label(bars, labels=labels, padding=3, fontsize=8)
    left.invert_yaxis()
    left.set_xlim(0, 150)
    left.set_xticks([0, 25, 50, 75, 100])
    left.set_title("Kept by each step")
    left.set_xlabel("share of the step's input kept (%)")
    if drops:
        reasons, counts = zip(*drops, strict=True)
        bars = right.barh(reasons, counts, color=COLORS[1])
        right.bar_label(bars, labels=[f"{c:,}" for c in counts], padding=3, fontsize=8)
        right.invert_yaxis()
        right.margins(x=0.2)
    else:
        right.text(0.5, 0.5, "no rows dropped", ha="center", va="center", transform=right.transAxes)
    right.set_title("Dropped, by step and reason")
    right.set_xlabel("rows dropped (unit in the label)")
    right.xaxis.set_major_locator(MaxNLocator(integer=True))
    fig.suptitle("Curation funnel")
    return fig
