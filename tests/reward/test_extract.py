"""Table-driven tests of answer extraction and gold normalisation (reward/extract.py)."""

from __future__ import annotations

import json

import pytest

from reward.extract import extract_answer, has_think_block, last_boxed, normalize_gold, split_reasoning
from tests.conftest import BENCHMARKS

BENCH = BENCHMARKS

LAST_BOXED = [
    ("\\boxed{5}", "5"),
    ("x \\boxed{1} then \\boxed{2}", "2"),
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),
    ("\\boxed{\\sqrt{\\frac{a}{b^{2}}}}", "\\sqrt{\\frac{a}{b^{2}}}"),
    ("\\fbox{7}", "7"),
    ("\\boxed{3} and \\fbox{4}", "4"),
    ("\\fbox{4} and \\boxed{3}", "3"),
    ("\\boxed{ 12 }", "12"),
    ("\\boxed 5$", "5"),
    ("$\\boxed 42$", "42"),
    ("\\boxed{\\{1,2\\}}", "\\{1,2\\}"),
    ("\\boxed{(1, 2)}", "(1, 2)"),
    ("\\boxed{a} \\boxed{b", "a"),  # unbalanced last box: the previous one
    ("\\boxed{unclosed", None),
    ("no box here", None),
    ("", None),
    ("\\boxed{}", ""),
    ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}"),
    ("\\boxed{\\boxed{9}}", "9"),
    ("\\boxed{x}" + "{" * 50_000, "x"),  # braces after the box do not matter
    ("\\boxed{" + "{" * 100_000, None),  # a megabyte of unbalanced braces: bounded, no answer
]

SPLIT = [
    ("<think>r</think>a", ("r", "a")),
    ("<think>\nlong\n</think>\n\n\\boxed{1}", ("\nlong\n", "\n\n\\boxed{1}")),
    ("prefix <think>r</think> after", ("r", " after")),
    ("r only</think>the end", ("r only", "the end")),  # the prompt opened the block
    ("<think>truncated reasoning", ("truncated reasoning", "")),
    ("plain answer", (None, "plain answer")),
    ("<|begin_of_thought|>t<|end_of_thought|>v", ("t", "v")),
    (
        "<|begin_of_thought|>t<|end_of_thought|><|begin_of_solution|>s<|end_of_solution|>",
        ("t", "s"),
    ),
    ("<think></think>x", ("", "x")),
]

HAS_THINK = [
    ("<think>r</think>\\boxed{1}", True),
    ("<think> \n </think>\\boxed{1}", False),  # empty block
    ("<think>r", False),  # never closed
    ("r</think>x", False),  # no opener in the response
    ("\\boxed{1}", False),
    ("<|begin_of_thought|>r<|end_of_thought|>", True),
    ("</think>x<think>", False),
]

EXTRACT = [
    ("<think>2+2=4</think>\\boxed{4}", "4"),
    ("<think>I think \\boxed{3}</think>So \\boxed{4}", "4"),  # visible part wins
    ("<think>work \\boxed{3}</think>", "3"),  # answer only in the reasoning
    ("The final answer is $\\frac{1}{2}$.", "\\frac{1}{2}"),
    ("The final answer is: 17", "17"),
    ("so the answer is 12.", "12"),
    ("Thus the answer is \\boxed{9} indeed", "9"),
    ("Answer: 42", "42"),
    ("work\nanswer: x+1", "x+1"),
    ("#### 1,234", "1234"),
    ("\\boxed{3}, \\boxed{5}, and \\boxed{7}", "3, 5, 7"),  # several answers boxed one by one
    ("blah\n#### 72", "72"),
    ("42", "42"),
    ("  $42$. ", "42"),
    ("-3.5", "-3.5"),
    ("I don't know", None),
    ("", None),
    ("<think>never finished", None),
    ("The answer is 3. Later: the final answer is 5", "5"),
    ("\\boxed{}", None),  # an empty box is no answer
    ("\\(x\\) the answer is \\(x^2\\)", "x^2"),
    ("The answer is 7\nand more text", "7"),
    ("x" * 1_000_000, None),  # a megabyte of junk
    ("\x00\x01\xff binary junk \x7f", None),
]

# The two named modes on the same responses: strict needs a box; lenient reads phrases and the last expression.
MODES = [
    # response, strict, lenient
    ("<think>x</think>So \\boxed{4}.", "4", "4"),
    ("<think>work \\boxed{3}</think>The answer is 5.", "3", "5"),  # lenient: the visible phrase first
    ("I think the answer is definitely \\(8000\\).", None, "8000"),  # the phrase's math, not its words
    ("The answer is definitely 8000.", None, "8000"),
    ("so the answer is probably $x = 5$, I believe", None, "x = 5"),
    ("Adding them we get $12$ apples, then $15$ in all", None, "15"),  # the last math span
    ("Adding them we get 12 apples and then 15 pears", None, "15"),  # else the last number
    ("I don't know", None, None),
    ("<think>never finished", None, None),
]

GOLD = [
    ("27.0", "27"),
    (27.0, "27"),
    (-1.0, "-1"),
    (0.5, "0.5"),
    (204, "204"),
    ("204", "204"),
    ("1.50", "1.50"),
    ("-3.", "-3"),
    ("\\frac{14}{3}", "\\frac{14}{3}"),
    ("\\text{Evelyn}", "\\text{Evelyn}"),
    ("90^\\circ", "90^\\circ"),
    ("$2^{1009}$", "2^{1009}"),
    ("\\(3\\)", "3"),
    ("$$x$$", "x"),
    ("She earns $18.\n#### 18", "18"),
    ("#### 1,000", "1000"),
    ("so $s=\\boxed{1.6} \\mathrm{~cm}$", "1.6"),
    ('["$x$", "$y$"]', "x, y"),
    (repr(["$\\frac{1}{2 n+2}$"]), "\\frac{1}{2 n+2}"),  # a Python repr of the list
    ("$69$,$84$", "69, 84"),  # several answers in one string
    ("$(-\\infty, 0) \\cup\\{1\\}$.", "(-\\infty, 0) \\cup\\{1\\}"),
    (["$1$", "$2$"], "1, 2"),
    ("[0,1]", "[0,1]"),  # an interval, not a list of strings
    ("(2,12) \\cup (12,102)", "(2,12) \\cup (12,102)"),
    ("  6+9i ", "6+9i"),
    ("-2,1", "-2,1"),  # a math answer list: commas kept
    ("$1$ and $2$", "$1$ and $2$"),  # not one math span: left alone
]


@pytest.mark.parametrize(("text", "expected"), LAST_BOXED)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


@pytest.mark.parametrize(("text", "expected"), SPLIT)
def test_split_reasoning(text, expected):
    assert split_reasoning(text) == expected


@pytest.mark.parametrize(("text", "expected"), HAS_THINK)
def test_has_think_block(text, expected):
    assert has_think_block(text) is expected


@pytest.mark.parametrize(("text", "expected"), EXTRACT)
def test_extract_answer(text, expected):
    assert extract_answer(text) == expected


@pytest.mark.parametrize(("text", "strict", "lenient"), MODES)
def test_extraction_modes(text, strict, lenient):
    assert (extract_answer(text, "strict"), extract_answer(text, "lenient")) == (strict, lenient)
    assert extract_answer(text) == lenient  # the default mode


def test_unknown_extraction_mode_is_refused():
    with pytest.raises(ValueError, match="extraction mode must be one of"):
        extract_answer("\\boxed{1}", "loose")


@pytest.mark.parametrize(("raw", "expected"), GOLD)
def test_normalize_gold(raw, expected):
    assert normalize_gold(raw) == expected


def _rows(name):
    return [json.loads(line) for line in (BENCH / name).read_text().splitlines()]


def test_real_benchmark_golds():
    """Every real benchmark answer normalises to a non-empty string without a wrapper left."""
    amc = [normalize_gold(r["answer"]) for r in _rows("amc23.jsonl")]
    assert amc[:4] == ["27", "36", "45", "3159"]
    gsm = [normalize_gold(r["answer"]) for r in _rows("gsm8k_test.jsonl")]
    assert gsm[0] == "18" and all(g.lstrip("-").replace(".", "").isdigit() for g in gsm)
    oly = [normalize_gold(r["final_answer"]) for r in _rows("olympiadbench.jsonl")]
    assert oly[:3] == ["2", "\\frac{1}{2 n+2}", "2^{1009}"]
    # Left as written: one prose answer ("where $b$ is ...") and one with a stray `$` ("$221,$8$").
    assert sum(g.startswith("$") for g in oly) == 2
    minerva = [normalize_gold(r["solution"]) for r in _rows("minerva_math.jsonl")]
    assert minerva[0] == "1.6" and all(minerva)
