"""The one rule for the text around a sample, so that the prompt synth sends, the views curate trains
on and the prompt train evaluates with are the same strings, and the text the verifier judges, the text
trained on and the text evaluated are the same string.

- user turn: the problem, a newline, the instruction (an empty instruction: the problem alone).
- reasoning and answer (`split_assistant`), whatever shape the teacher answered in: a separate reasoning
  channel (`reasoning_content`); an inline `<think>..</think>` block; a block whose opener the chat
  template pre-filled (R1-distill served without a reasoning parser: only `</think>` comes back); an
  unclosed block (a cut response: all reasoning, no answer); the `<|begin_of_thought|>` /
  `<|begin_of_solution|>` markers of Sky-T1/OpenThoughts. Both parts are stripped of surrounding blanks.
- the canonical assistant turn (`assistant_text`): `<think>\nREASONING\n</think>\n\nANSWER` (DeepSeek-R1's
  own layout), or the answer alone when there is no reasoning at all.
- per-sample seed: 31 bits of sha256("{seed}\\x1f{problem_id}\\x1f{sample_idx}"), the seed synth has
  always recorded in traces.seed, so recorded traces stay reproducible.
"""

from __future__ import annotations

import json

from lakehouse.ids import stable_hash

# The paper's evaluation instruction (Phi-4-Mini-Reasoning), also used for generation and the views.
DEFAULT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

# reasoning markers (reward/extract.py reads the same ones)
_THINK_TAGS = (("<think>", "</think>"), ("<|begin_of_thought|>", "<|end_of_thought|>"))
_SOLUTION_TAGS = ("<|begin_of_solution|>", "<|end_of_solution|>")


def user_turn(problem: str, instruction: str = DEFAULT_INSTRUCTION) -> str:
    return f"{problem}\n{instruction}" if instruction else problem


def prompt_messages(
    problem: str, instruction: str = DEFAULT_INSTRUCTION, system_prompt: str | None = None
) -> list[dict]:
    """The chat messages of a problem: an optional system message, then the user turn."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return system + [{"role": "user", "content": user_turn(problem, instruction)}]


def split_assistant(reasoning: str | None, text: str | None) -> tuple[str | None, str]:
    """(reasoning, answer) of a response; reasoning None when the response has none."""
    text = text or ""
    if reasoning is not None:  # a reasoning channel; the text is the answer (maybe solution-wrapped)
        inline, answer = _split_inline(text)
        if inline is not None and not reasoning.strip():  # an empty channel beside an inline block
            return inline.strip(), answer.strip()
        return reasoning.strip(), _strip_solution(text).strip()
    inline, answer = _split_inline(text)
    return (None, text) if inline is None else (inline.strip(), answer.strip())


def assistant_text(reasoning: str | None, answer: str | None) -> str:
    """The canonical assistant turn of a response given as (reasoning channel, text)."""
    r, a = split_assistant(reasoning, answer)
    return a if r is None else f"<think>\n{r}\n</think>\n\n{a}"


def prompt_template(messages: list[dict], problem: str) -> str:
    """The prompt with the problem text replaced by `{problem}`: what a run asked, once per run."""
    return json.dumps(
        [{**m, "content": str(m.get("content", "")).replace(problem, "{problem}")} for m in messages],
        ensure_ascii=False,
    )


def _split_inline(text: str) -> tuple[str | None, str]:
    for open_tag, close_tag in _THINK_TAGS:
        start = text.find(open_tag)
        end = text.find(close_tag, start + len(open_tag) if start >= 0 else 0)
        if start >= 0 and end >= 0:
            return text[start + len(open_tag) : end], _strip_solution(text[end + len(close_tag) :])
        if start >= 0:  # never closed: a cut response is all reasoning
            return text[start + len(open_tag) :], ""
        if end >= 0:  # the chat template opened the block: only its close tag came back
            return text[:end], _strip_solution(text[end + len(close_tag) :])
    return None, text


def _strip_solution(text: str) -> str:
    """Drop the `<|begin_of_solution|>` ... `<|end_of_solution|>` wrapper around an answer."""
    start = text.find(_SOLUTION_TAGS[0])
    if start >= 0:
        text = text[start + len(_SOLUTION_TAGS[0]) :]
    end = text.rfind(_SOLUTION_TAGS[1])
    return text[:end] if end >= 0 else text


def sample_seed(seed: int, problem_id: str, sample_idx: int) -> int:
    return int(stable_hash(f"{seed}\x1f{problem_id}\x1f{sample_idx}", 8), 16) & 0x7FFFFFFF
