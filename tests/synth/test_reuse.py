"""The completion cache (synth/reuse.py): a second run with another name asks the teacher nothing for
prompts the lake already has answers to; --no-reuse asks again; changing a sampling parameter misses."""

from __future__ import annotations

from lakehouse.sql import connect
from tests.helpers.chat_server import ChatServer
from tests.synth.test_openai_generate import finish, make_lake, synth

PRICES = ("--price-in", "1000", "--price-out", "1000")


def _rows(lake, run):
    return (
        connect(lake)
        .execute(
            "SELECT problem_id, sample_idx, completion, reasoning, seed, cost_usd FROM traces WHERE run = ? "
            "ORDER BY 1, 2",
            [run],
        )
        .fetchall()
    )


def test_second_run_reuses_every_completion_and_no_reuse_asks_again(tmp_path):
    lake = make_lake(tmp_path / "lake", 10)
    with ChatServer() as server:
        code, out, err = finish(synth(lake, server, "--samples", "3", "--run", "first", *PRICES))
        assert code == 0, err
        first_requests = sum(server.state.requests.values())
        spent = connect(lake).execute("SELECT sum(cost_usd) FROM traces WHERE run = 'first'").fetchone()[0]

        code, out, err = finish(synth(lake, server, "--samples", "3", "--run", "second", *PRICES))
        assert code == 0, err
        assert sum(server.state.requests.values()) == first_requests  # 0 requests for the second run
        assert "30/30 samples done (0 new, 30 reused, 0 failed)" in out
        assert f"${spent:.4f} saved by reuse" in out
        first, second = _rows(lake, "first"), _rows(lake, "second")
        assert [r[:5] for r in second] == [r[:5] for r in first]
        assert {r[5] for r in second} == {0.0}

        code, out, err = finish(
            synth(lake, server, "--samples", "3", "--run", "third", "--no-reuse", *PRICES)
        )
        assert code == 0, err
        assert "30/30 samples done (30 new, 0 failed)" in out
        assert sum(server.state.requests.values()) == 2 * first_requests

        # another max-tokens is another question: nothing matches
        code, out, err = finish(
            synth(lake, server, "--samples", "3", "--run", "fourth", "--max-tokens", "32")
        )
        assert code == 0, err
        assert "(30 new, 0 failed)" in out


def test_a_run_with_more_samples_reuses_the_ones_it_shares(tmp_path):
    lake = make_lake(tmp_path / "lake", 5)
    with ChatServer(n_mode="ignore") as server:
        assert finish(synth(lake, server, "--samples", "2", "--run", "a"))[0] == 0
        before = sum(server.state.requests.values())
        code, out, err = finish(synth(lake, server, "--samples", "4", "--run", "b"))
        assert code == 0, err
        assert "20/20 samples done (10 new, 10 reused, 0 failed)" in out
        assert sum(server.state.requests.values()) - before == 10  # only the 10 samples it did not have
