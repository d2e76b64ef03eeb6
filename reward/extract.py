"""Answer extraction and gold normalisation: pure functions, standard library only.

Everything here runs in the parent process on untrusted model output (up to megabytes of junk), so every
scan is linear and every regular expression is anchored or bounded: nothing in this module can hang.
"""

from __future__ import annotations

import ast
import json
import re

# Reasoning delimiters: (open, close). R1/Qwen style and the Bespoke/OpenThoughts style.
_THINK_TAGS = (("<think>", "</think>"), ("<|begin_of_thought|>", "<|end_of_thought|>"))
_SOLUTION_TAGS = ("<|begin_of_solution|>", "<|end_of_solution|>")
_BOX_COMMANDS = ("\\boxed", "\\fbox")
# How many earlier \boxed occurrences to try when the last one is unbalanced (bounded: no quadratic scan).
_MAX_BOX_RETRIES = 8
_MAX_BOX_CHARS = 20_000
# Phrases a model uses instead of \boxed; the answer runs to the end of its line.
# Matched at the start of one line; the greedy `.*` makes it find the line's last phrase.
_ANSWER_PHRASE = re.compile(
    r"(?:^\s*answer\s*:|.*(?:final answer|the answer)\s*(?:is|:)|.*####)\s*:?\s*(?P<ans>.{1,200})",
    re.IGNORECASE,
)
# Math spans: $..$, \(..\), \[..\] (bounded lengths keep the scans linear on junk).
_ANY_SPAN = re.compile(r"\$\$([^$]{1,400})\$\$|\$([^$]{1,400})\$|\\\((.{1,400}?)\\\)|\\\[(.{1,400}?)\\\]")
_FIRST_SPAN = _ANY_SPAN
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
# English words before the answer ("definitely", "approximately", "equal to"), dropped when a number follows.
_LEADING_WORDS = re.compile(r"(?:[A-Za-z]{2,}\s+){1,4}(?=[-+]?\d)")
_THOUSANDS = re.compile(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_SPAN = re.compile(r"\$([^$]+)\$")
_SPAN_LIST = re.compile(r"\$[^$]+\$(?:\s*,\s*\$[^$]+\$)*")
_WHOLE_FLOAT = re.compile(r"(?P<int>[-+]?\d+)\.0*")
_MATH_DELIMS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))


def split_reasoning(text: str) -> tuple[str | None, str]:
    """Split a response into (reasoning, visible answer part).

    A closed block gives (inside, after). A close tag without its opener (the prompt opened the block)
    gives (before, after). An opener that is never closed (a truncated response) gives (rest, "").
    No block at all gives (None, text).
    """
    for open_tag, close_tag in _THINK_TAGS:
        start = text.find(open_tag)
        end = text.find(close_tag, start + len(open_tag) if start >= 0 else 0)
        if start >= 0 and end >= 0:
            return text[start + len(open_tag) : end], _strip_solution(text[end + len(close_tag) :])
        if start >= 0:
            return text[start + len(open_tag) :], ""
        if end >= 0:
            return text[:end], _strip_solution(text[end + len(close_tag) :])
    return None, text


def _strip_solution(visible: str) -> str:
    """Drop the `<|begin_of_solution|>` wrapper of the OpenThoughts style."""
    open_tag, close_tag = _SOLUTION_TAGS
    start = visible.find(open_tag)
    if start >= 0:
        visible = visible[start + len(open_tag) :]
    end = visible.rfind(close_tag)
    if end >= 0:
        visible = visible[:end]
    return visible


def has_think_block(text: str) -> bool:
    """True when the response holds a closed reasoning block with some content in it."""
    for open_tag, close_tag in _THINK_TAGS:
        start = text.find(open_tag)
        if start < 0:
            continue
        end = text.find(close_tag, start + len(open_tag))
        if end >= 0 and text[start + len(open_tag) : end].strip():
            return True
    return False


def last_boxed(text: str) -> str | None:
    """Content of the last balanced `\\boxed{..}` / `\\fbox{..}` (nested braces allowed), stripped.

    Also accepts the brace-less form `\\boxed 5`. An unbalanced last box (a truncated response) falls
    back to the previous one, a bounded number of times. None when there is no usable box.
    """
    end = len(text)
    for _ in range(_MAX_BOX_RETRIES):
        pos, cmd = _rfind_any(text, _BOX_COMMANDS, end)
        if pos < 0:
            return None
        content = _box_content(text, pos + len(cmd))
        if content is not None:
            return content.strip()
        end = pos
    return None


_BOX_SEPARATOR = re.compile(r"^[\s,;$]*(?:and|or)?[\s,;$]*$")
_MAX_JOINED_BOXES = 16


def final_boxes(text: str) -> str | None:
    """The last box, with the boxes right before it when only separators stand between them:
    `\\boxed{3}, \\boxed{5}, and \\boxed{7}` -> "3, 5, 7" (several answers boxed one by one)."""
    end = len(text)
    found: list[str] = []
    tail_start = None
    for _ in range(_MAX_JOINED_BOXES):
        pos, cmd = _rfind_any(text, _BOX_COMMANDS, end)
        if pos < 0:
            break
        content = _box_content(text, pos + len(cmd))
        if content is None:
            if found:
                break
            end = pos  # an unbalanced last box: the previous one (as last_boxed does)
            continue
        close = pos + len(cmd) + len(content) + 2 if text[pos + len(cmd) : pos + len(cmd) + 1] == "{" else end
        if found and not _BOX_SEPARATOR.match(text[close:tail_start]):
            break
        found.append(content.strip())
        tail_start, end = pos, pos
    if not found:
        return None
    return ", ".join(reversed(found)) if len(found) > 1 else found[0]


def _rfind_any(text: str, needles: tuple[str, ...], end: int) -> tuple[int, str]:
    best, best_needle = -1, ""
    for needle in needles:
        pos = text.rfind(needle, 0, end)
        if pos > best:
            best, best_needle = pos, needle
    return best, best_needle


def _box_content(text: str, i: int) -> str | None:
    """The argument of a box command whose name ends at index i, or None if it is unbalanced."""
    if i < len(text) and text[i] == " ":
        # `\boxed 5` form: the argument runs to the next `$` or whitespace.
        m = re.match(r" +([^\s$]{1,200})", text[i : i + 256])
        return m.group(1) if m else None
    if i >= len(text) or text[i] != "{":
        return None
    close = text.find("}", i + 1)
    if close > 0 and text.find("{", i + 1, close) < 0 and text[close - 1] != "\\":
        return text[i + 1 : close]  # the common case, no nested braces: no scan
    depth = 0
    j, end = i, min(len(text), i + _MAX_BOX_CHARS)  # bounded: a megabyte of braces must stay cheap
    while j < end:
        c = text[j]
        if c == "\\":
            j += 2  # `\{` / `\}` are literal set braces, not grouping
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j]
        j += 1
    return None


EXTRACTION_MODES = ("strict", "lenient")


def extract_answer(text: str, mode: str = "lenient") -> str | None:
    """The final answer of a response, or None.

    `strict` (curation's default: an SFT target must carry the format): the last box in the visible
    part, else the last box inside the reasoning. `lenient` (evaluation's default, as the field's
    evaluators do): the last box in the visible part, then an answer phrase ("the final answer is ...",
    "Answer: ...", "#### ...") reduced to its mathematical content, then the last mathematical expression
    of the visible part (a math span, else a number), then the last box inside the reasoning. A box always
    wins over a phrase: models often write "the answer is \\boxed{5}".
    """
    if mode not in EXTRACTION_MODES:
        raise ValueError(f"extraction mode must be one of {EXTRACTION_MODES}, got {mode!r}")
    if not text:
        return None
    reasoning, visible = split_reasoning(text)
    answer = final_boxes(visible)
    if answer is None and mode == "lenient":
        answer = _phrase_answer(visible)
        if answer is None:
            answer = _last_expression(visible)
    if answer is None and reasoning is not None:
        answer = last_boxed(reasoning)
    return answer or None


def _phrase_answer(visible: str) -> str | None:
    # Only the tail is searched, last line first: a final-answer phrase is at the end, and this bounds the work.
    for line in reversed(visible[-4000:].splitlines()):
        found = _ANSWER_PHRASE.match(line)  # match, not search: one start position keeps it linear
        if found:
            return _clean_phrase(found.group("ans")) or None
    return None


def _clean_phrase(raw: str) -> str:
    """What follows an answer phrase, reduced to the answer: its box, else its first math span, else the
    text with leading words dropped when a number follows them ("definitely 8000." -> "8000")."""
    raw = raw.strip()
    inner = last_boxed(raw)
    if inner is not None:
        return inner
    span = _FIRST_SPAN.search(raw)
    if span is not None:
        return _drop_thousands(next(g for g in span.groups() if g is not None).strip())
    words = _LEADING_WORDS.match(raw)
    if words is not None:
        raw = raw[words.end() :]
    raw = _unwrap_math(raw.rstrip(" ."))
    return _drop_thousands(raw.rstrip(" .").strip())


def _last_expression(visible: str) -> str | None:
    """The last math span of the visible part's tail, else its last number (bounded: the last 4000 chars)."""
    tail = visible[-4000:]
    spans = [next(g for g in m.groups() if g is not None) for m in _ANY_SPAN.finditer(tail)]
    spans = [s.strip() for s in spans if s.strip()]
    if spans:
        return _drop_thousands(spans[-1])
    numbers = _NUMBER.findall(tail)
    return _drop_thousands(numbers[-1].rstrip(".")) if numbers else None


def _unwrap_math(s: str) -> str:
    """`$x$`, `$$x$$`, `\\(x\\)`, `\\[x\\]` -> `x` (only when the whole string is one math span)."""
    s = s.strip()
    for open_d, close_d in _MATH_DELIMS:
        if len(s) >= len(open_d) + len(close_d) and s.startswith(open_d) and s.endswith(close_d):
            inner = s[len(open_d) : len(s) - len(close_d)]
            if open_d not in inner:
                return inner.strip()
    return s


def normalize_gold(raw: object) -> str:
    """A gold answer in any benchmark format, as the bare answer text.

    Integers stay; floats that are whole lose `.0` (`27.0` -> `27`); `#### N` (GSM8K) keeps N without
    thousands separators; a worked solution gives its last box; `$..$` is unwrapped; a list of answers
    (a Python list, or a JSON list of strings as OlympiadBench stores them) is comma-joined.
    """
    if isinstance(raw, bool):
        return str(raw)
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, float):
        return _float_text(raw)
    if isinstance(raw, (list, tuple)):
        return ", ".join(normalize_gold(x) for x in raw)
    text = str(raw).strip()
    as_list = _json_string_list(text)
    if as_list is not None:
        return normalize_gold(as_list)
    return _normalize_gold_text(text)


def _normalize_gold_text(text: str) -> str:
    if "####" in text:
        tail = text.rsplit("####", 1)[1].strip()
        return _drop_thousands(tail)
    boxed = last_boxed(text)
    if boxed is not None:
        text = boxed
    spans = _math_span_list(text)
    if spans is not None:
        return ", ".join(_whole_number(x) for x in spans)
    return _whole_number(_unwrap_math(text))


def _math_span_list(text: str) -> list[str] | None:
    """`$69$,$84$` (several answers in one string, as in OlympiadBench) -> ["69", "84"]."""
    text = text.rstrip(".").strip()
    if not _SPAN_LIST.fullmatch(text):
        return None
    return [x.strip() for x in _SPAN.findall(text)]


def _float_text(x: float) -> str:
    return str(int(x)) if x.is_integer() else repr(x)


def _whole_number(text: str) -> str:
    """`27.0` -> `27`, `-3.` -> `-3`; anything else unchanged (done on the text: no float rounding)."""
    m = _WHOLE_FLOAT.fullmatch(text)
    return m.group("int") if m else text


def _drop_thousands(s: str) -> str:
    return s.replace(",", "") if _THOUSANDS.fullmatch(s) else s


def _json_string_list(text: str) -> list[str] | None:
    """A list of answer strings stored as JSON (`["$1$", "$2$"]`) or as a Python repr (`['$1$']`)."""
    if not (text.startswith("[") and text.endswith("]")) or len(text) > 100_000:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    if isinstance(value, list) and value and all(isinstance(x, str) for x in value):
        return value
    return None
