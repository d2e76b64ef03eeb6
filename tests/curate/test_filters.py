"""Trace filters: each has its own reason, the first failing one is the trace's reason."""

from __future__ import annotations

import pyarrow as pa
import pytest
from curate_lake import trace_row

from curate.config import FilterConfig
from curate.filters import check_traces, repetition_share, text_hash
from curate.ngrams import NgramHasher
from lakehouse.schema import TRACES

GOOD = "Add 2 and 3 to get 5, then check it by subtracting."
LOOP = " ".join(["so we add two and three again"] * 20)

CASES = [
    # (reasoning field, completion, tokens, finish, error, expected reason)
    (GOOD, "The answer is \\boxed{5}.", 20, "stop", None, None),
    (None, f"<think>{GOOD}</think>The answer is \\boxed{{5}}.", 20, "stop", None, None),
    (None, f"<|begin_of_thought|>{GOOD}<|end_of_thought|>\\boxed{{5}}", 20, "stop", None, None),
    (GOOD, "The answer is \\boxed{5}.", 20, "stop", "HTTP 500", "gen_error"),
    (GOOD, "The answer is \\boxed{5}.", 20, "length", None, "not_stop"),
    (None, "The answer is \\boxed{5}.", 20, "stop", None, "no_reasoning"),
    (GOOD, "", 20, "stop", None, "empty_answer"),
    (None, f"<think>{GOOD}</think>", 20, "stop", None, "empty_answer"),
    (GOOD, "The answer is 5.", 20, "stop", None, "no_boxed"),
    (None, "<think>\\boxed{5} early</think>The answer is 5.", 20, "stop", None, "no_boxed"),
    (GOOD, "The answer is \\boxed{5}.", 2, "stop", None, "too_short"),
    (GOOD, "The answer is \\boxed{5}.", 500, "stop", None, "too_long"),
    (LOOP, "The answer is \\boxed{5}.", 200, "stop", None, "repetition"),
    (GOOD, "The answer is 5.", 2, "length", None, "not_stop"),  # the first failing filter wins
]


@pytest.mark.parametrize("reasoning, completion, tokens, finish, error, reason", CASES)
def test_reason(reasoning, completion, tokens, finish, error, reason):
    cfg = FilterConfig(min_tokens=5, max_tokens=400)
    row = trace_row("p", 0, reasoning, completion, tokens, finish=finish, error=error)
    checks = check_traces(pa.Table.from_pylist([row], schema=TRACES), cfg)
    assert checks.column("reason").to_pylist() == [reason]


def test_switched_off_filters_pass():
    cfg = FilterConfig(require_stop=False, require_boxed=False, require_reasoning=False, require_answer=False)
    rows = [trace_row("p", i, None, "5", 1, finish="length") for i in range(2)]
    assert check_traces(pa.Table.from_pylist(rows, schema=TRACES), cfg).column("reason").to_pylist() == [
        None,
        None,
    ]


def test_repetition_share():
    hasher = NgramHasher(8)
    assert repetition_share(GOOD, hasher) == 0.0
    assert repetition_share("too short to judge", hasher) == 0.0
    # 20 copies of a 7-word phrase: 140 words, 133 8-grams, of which only 7 are distinct
    assert repetition_share(LOOP, hasher) == pytest.approx(1 - 7 / 133)


def test_text_hash():
    assert text_hash("The  Answer\n is 5") == text_hash("the answer is 5") != text_hash("the answer is 6")


def test_max_length_of_the_students_tokenizer_drops_long_traces_ahead_of_training(tmp_path):
    """Real R1 traces (tests/fixtures/README.md) against a tokenizer trained here: with the stage's bound
    (filters.max_length + student_tokenizer) the traces longer than it fail `over_max_length`."""
    import json

    from lakehouse.errors import UserError
    from sampling.prompts import assistant_text
    from tests.conftest import FIXTURES
    from train.tiny import train_tokenizer

    r1 = [json.loads(line) for line in (FIXTURES / "r1_671b_traces.jsonl").read_text().splitlines()]
    corpus = [t["message_thinking"] + t["message_content"] for t in r1]
    tok = train_tokenizer(corpus, kind="bpe", vocab_size=300).backend_tokenizer  # the `tokenizers` object
    tok.save(str(tmp_path / "tokenizer.json"))
    rows = [trace_row(f"p{i}", 0, t["message_thinking"], t["message_content"], 100) for i, t in enumerate(r1)]
    rows.append(trace_row("short", 0, "2+2=4", "\\boxed{4}", 5))
    table = pa.Table.from_pylist(rows, schema=TRACES)
    lengths = [
        len(tok.encode("?" + assistant_text(r["reasoning"], r["completion"]), add_special_tokens=False).ids)
        for r in rows
    ]
    bound = sorted(lengths)[2]  # between the lengths: some traces fit, some do not
    cfg = FilterConfig(max_length=bound, student_tokenizer=str(tmp_path))
    reasons = check_traces(table, cfg).column("reason").to_pylist()
    assert reasons == [None if n <= bound else "over_max_length" for n in lengths]
    assert reasons.count("over_max_length") == len(rows) - 3
    with pytest.raises(UserError, match="filters.max_length needs filters.student_tokenizer"):
        check_traces(table, FilterConfig(max_length=10))
    with pytest.raises(UserError, match="no tokenizer.json there"):
        check_traces(table, FilterConfig(max_length=10, student_tokenizer=str(tmp_path / "nope")))
