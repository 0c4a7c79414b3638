"""Building GRM prompts: seeded per-sample shuffles, the hinted variant and the meta-RM input (GRM_SPEC 2-3)."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from workers.grm.templates import HINT_LINE, render, response_blocks

Message = dict[str, str]

META_RM_INSTRUCTION = "Please score the responses."


def render_context(messages: Sequence[Message]) -> str:
    """The conversation as the template's context: a lone user turn is its text; else one line per turn."""
    if len(messages) == 1 and messages[0]["role"] == "user":
        return messages[0]["content"]
    return "\n".join(f"{message['role'].capitalize()}: {message['content']}" for message in messages)


def sample_permutation(n: int, *, seed: int, query_key: str, sample_index: int) -> list[int]:
    """The order responses are shown in for one sample: permutation[i] = original index shown at i.

    Seeded by (run seed, query, sample index) so a re-run task shows the same order.
    """
    digest = hashlib.sha256(f"{seed}:{query_key}:{sample_index}".encode()).digest()
    order = list(range(n))
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return order


def to_original_order(shown_scores: Sequence[int], permutation: Sequence[int]) -> list[int]:
    """Map scores given in shown order back to the uploaded order."""
    original = [0] * len(permutation)
    for shown_position, original_index in enumerate(permutation):
        original[original_index] = shown_scores[shown_position]
    return original


@dataclass(frozen=True)
class Prompt:
    """One sample's prompt as a chat message list, with the order its responses were shown in."""

    messages: list[Message]
    permutation: list[int]
    hinted: bool = False


def build_prompt(
    template: str,
    *,
    context: Sequence[Message],
    responses: Sequence[str],
    permutation: Sequence[int],
    hint_best: int | None = None,
) -> Prompt:
    """The GRM prompt (one user message, no system prompt), responses shown in `permutation` order.

    `hint_best` is the labelled best response's original index: the hinted variant names its shown
    position (1-based) on an appended line.
    """
    shown = [responses[index] for index in permutation]
    text = render(template, context=render_context(context), responses=shown)
    if hint_best is not None:
        text += "\n" + HINT_LINE.format(best=list(permutation).index(hint_best) + 1)
    return Prompt(
        messages=[{"role": "user", "content": text}], permutation=list(permutation), hinted=hint_best is not None
    )


def meta_rm_input(
    *, context: Sequence[Message], responses: Sequence[str], permutation: Sequence[int], principles: str, critique: str
) -> list[Message]:
    """The meta RM's input (App. G): the instruction, context and responses, then the sample's reasoning."""
    shown = [responses[index] for index in permutation]
    question = (
        f"{META_RM_INSTRUCTION}\n#### Conversation Context ####\n{render_context(context)}\n"
        f"#### Responses to be Scored ####\n{response_blocks(shown)}"
    )
    answer = f"Specific Criteria: {principles}\nAnalysis: {critique}"
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
