"""The one rule for the text around a sample, so that the prompt synth sends, the views curate trains
on and the prompt train evaluates with are the same strings.

- user turn: the problem, a newline, the instruction (an empty instruction: the problem alone).
- assistant text: a completion that already carries its reasoning block (`<think>..</think>` with
  something in it) is kept as is; otherwise a separate reasoning channel is put in front as
  `<think>REASONING</think>`. No reasoning at all (None): the completion alone. An empty reasoning
  string is still a reasoning channel and gives `<think></think>COMPLETION` (the views' rule).
- per-sample seed: 31 bits of sha256("{seed}\\x1f{problem_id}\\x1f{sample_idx}"), the seed synth has
  always recorded in traces.seed, so recorded traces stay reproducible.
"""

from __future__ import annotations

from lakehouse.ids import stable_hash

# The paper's evaluation instruction (Phi-4-Mini-Reasoning), also used for generation and the views.
DEFAULT_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."

_THINK_TAGS = (("<think>", "</think>"), ("<|begin_of_thought|>", "<|end_of_thought|>"))  # reward/extract.py's


def user_turn(problem: str, instruction: str = DEFAULT_INSTRUCTION) -> str:
    return f"{problem}\n{instruction}" if instruction else problem


def prompt_messages(
    problem: str, instruction: str = DEFAULT_INSTRUCTION, system_prompt: str | None = None
) -> list[dict]:
    """The chat messages of a problem: an optional system message, then the user turn."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return system + [{"role": "user", "content": user_turn(problem, instruction)}]


def assistant_text(reasoning: str | None, answer: str | None) -> str:
    answer = answer or ""
    if reasoning is None or _has_think_block(answer):
        return answer
    return f"<think>{reasoning}</think>{answer}"


def sample_seed(seed: int, problem_id: str, sample_idx: int) -> int:
    return int(stable_hash(f"{seed}\x1f{problem_id}\x1f{sample_idx}", 8), 16) & 0x7FFFFFFF


def _has_think_block(text: str) -> bool:
    """A closed reasoning block with something in it: reward.extract.has_think_block, repeated because
    sampling sits below reward (tests/sampling/test_prompts.py checks that the two agree)."""
    for open_tag, close_tag in _THINK_TAGS:
        start = text.find(open_tag)
        if start < 0:
            continue
        end = text.find(close_tag, start + len(open_tag))
        if end >= 0 and text[start + len(open_tag) : end].strip():
            return True
    return False
