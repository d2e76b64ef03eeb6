"""The card's PNGs: valid, sensibly sized, labelled, and carrying no metadata beyond a fixed tag."""

from __future__ import annotations

import struct
import zlib

import matplotlib.image as mpimg
import numpy as np
import pytest
from helpers import card_lake

from data_cards.plots import PNG_METADATA, funnel_chart, length_histogram, pass_rate_histogram, write_plots
from data_cards.stats import FunnelRow, LengthSeries, collect


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r} chunk"
        chunks.append((kind, body))
        pos += 12 + length
    return chunks


@pytest.fixture(scope="module")
def stats(tmp_path_factory):
    root = tmp_path_factory.mktemp("plots") / "lake"
    card_lake.build(root)
    return collect(root, ["mid", "sft", "dpo", "rl"])


def test_pngs_are_valid_sensible_and_metadata_free(stats, tmp_path):
    written = write_plots(stats, tmp_path)
    assert sorted(written) == ["funnel", "lengths", "pass_rate"]
    for path in written.values():
        chunks = png_chunks(path.read_bytes())
        kinds = [k for k, _ in chunks]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND"
        width, height = struct.unpack(">II", chunks[0][1][:8])
        assert 600 <= width <= 2000 and 300 <= height <= 2000, (path.name, width, height)
        texts = dict(body.split(b"\x00", 1) for kind, body in chunks if kind == b"tEXt")
        assert texts == {k.encode(): v.encode() for k, v in PNG_METADATA.items()}
        assert not {b"iTXt", b"zTXt", b"eXIf"} & set(kinds)
        pixels = mpimg.imread(path)
        assert pixels.shape[:2] == (height, width) and float(np.std(pixels)) > 0.05


def test_no_funnel_no_funnel_plot(tmp_path):
    card_lake.build(tmp_path / "lake", funnel=False)
    written = write_plots(collect(tmp_path / "lake", ["sft"]), tmp_path / "plots")
    assert sorted(written) == ["lengths", "pass_rate"]


def texts(fig) -> tuple[list[str], list[str], list[str]]:
    axes = fig.get_axes()
    return (
        [a.get_title(loc="left") or a.get_title() for a in axes],
        [a.get_xlabel() for a in axes],
        [a.get_ylabel() for a in axes],
    )


def test_figures_have_titles_and_axis_labels_with_units():
    fig = length_histogram(
        [LengthSeries("sft", "tokens", [5, 7, 9]), LengthSeries("dpo chosen", "tokens", [3])]
    )
    titles, xlabels, ylabels = texts(fig)
    assert titles == ["sft: 3 rows, median 7 tokens", "dpo chosen: 1 rows, median 3 tokens"]
    assert xlabels[-1] == "completion length (tokens); dotted line: median"
    assert ylabels == ["rows", "rows"]
    assert fig.get_suptitle() == "Completion length per view"

    titles, xlabels, ylabels = texts(pass_rate_histogram([0.0, 0.5, 1.0, 1.0]))
    assert titles == ["Teacher pass rate per problem (4 problems; red: never solved, green: always)"]
    assert xlabels == ["pass rate (share of a problem's samples verified correct)"] and ylabels == [
        "problems"
    ]

    fig = funnel_chart([FunnelRow("filters", "traces", 10, 8, "repetition", 2)])
    titles, xlabels, _ = texts(fig)
    assert titles == ["Kept by each step", "Dropped, by step and reason"]
    assert xlabels == ["share of the step's input kept (%)", "rows dropped (unit in the label)"]
    left, right = fig.get_axes()
    assert [t.get_text() for t in left.texts] == ["8 of 10 traces"]
    assert [t.get_text() for t in right.get_yticklabels()] == ["filters: repetition (traces)"]


def test_pass_rate_bars_many_distinct_rates_use_ten_bins():
    rates = [0.0, 0.0, 1.0, 1.0, 1.0] + [(i + 0.5) / 40 for i in range(40)]  # 42 distinct values: binned
    ax = pass_rate_histogram(rates).get_axes()[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0] == "0" and labels[-1] == "1" and labels[1] == "0.0-0.1" and len(labels) == 12
    heights = [int(p.get_height()) for p in ax.patches]
    assert heights == [2] + [4] * 10 + [3]
