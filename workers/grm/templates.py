"""Prompt templates of the GRM (GRM_SPEC section 2): the paper's prompts, their named placeholders and
the registry of built-in templates that the database's template rows are created from.

Pure Python: no Django import. Placeholders are `{context}`, `{responses}` (the numbered response
blocks), `{response}` (the one response's text, single-response templates only), `{score_example}`
and `{n}`; only these exact names are replaced, so other braces in a user's template stay as written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

PLACEHOLDERS = ("context", "responses", "response", "score_example", "n")

# DeepSeek-GRM (Default), paper App. G, byte for byte for any number of responses: the released
# checkpoints were trained on exactly this text, including its example line for two responses.
DEFAULT_TEMPLATE = """\
You are a skilled little expert at scoring responses. You should evaluate given responses based on the given judging criteria.
Given the context of the conversation (the last round is the User's query) and multiple responses from the Assistant, you need to refer to the [General Evaluation Criteria] to score the responses. Based on the general evaluation criteria, state potential other specific criteria to the query, the weights of different criteria, and then provide an overall comprehensive score upon them.
Each score is an integer between 1 and 10, with a higher score indicating that the response meets the relevant criteria more closely. For example, a score of 1 means the response does not meet the criteria at all, a score of 6 means the response meets only some parts, and a score of 10 means the response perfectly meets the evaluation criteria.
Before scoring, please analyze step by step. Your scoring needs to be as strict as possible.

#### Evaluation Criteria ####
1. Instruction Adherence:
- Fully Adhered (9-10 points): The response fully complies with all instructions and requirements of the question.
- Partially Adhered (6-8 points): The response meets most of the instructions but has some omissions or misunderstandings.
- Basically Adhered (3-5 points): The response meets some instructions, but the main requirements are not fulfilled.
- Not Adhered (1-2 points): The response does not meet any instructions.
Example: If the question requires three examples and the response provides only one, it falls under "Partially Adhered."
2. Usefulness:
- Highly Useful (9-10 points): The response provides comprehensive and accurate information, fully addressing the issue.
- Useful but Incomplete (6-8 points): The response provides some useful information, but lacks details or accuracy.
- Limited Usefulness (3-5 points): The response offers little useful information, with most content being irrelevant or incorrect.
- Useless or Incorrect (1-2 points): The response is completely irrelevant or incorrect.
Example: If there are factual errors in the response but the overall direction is correct, it falls under "Useful but Incomplete."
3. Level of Detail:
- Very Detailed (9-10 points): The response includes ample details covering all aspects of the issue.
- Detailed but Slightly Lacking (6-8 points): The response is fairly detailed but misses some important details.
- Basically Detailed (3-5 points): The response provides some details but is not thorough enough overall.
- Not Detailed (1-2 points): The response is very brief and lacks necessary details.
Example: If the response provides only a simple conclusion without an explanation, it falls under "Not Detailed."
4. Relevance:
- Highly Relevant (9-10 points): The response is highly relevant to the question, with information closely aligned with the topic.
- Generally Relevant (6-8 points): The response is generally relevant but includes some unnecessary information.
- Partially Relevant (3-5 points): The response has a lot of content that deviates from the topic.
- Not Relevant (1-2 points): The response is completely irrelevant.
Example: If the response strays from the topic but still provides some relevant information, it falls under "Partially Relevant."

#### Conversation Context ####
{context}
#### Responses to be Scored ####
{responses}
#### Output Format Requirements ####
Output with three lines
Specific Criteria: <Other potential criteria specific to the query and the context, and the weights of each criteria>.
Analysis: <Compare different responses based on given Criteria>.
Scores: <the overall comprehensive score of all responses in order, separate by comma in the boxed, e.g., \\boxed{x, x} if there exists 2 responeses>."""

# The default's example line made to match the number of responses shown (our adaptation, not the paper's).
ADAPTED_TEMPLATE = DEFAULT_TEMPLATE.replace(
    "\\boxed{x, x} if there exists 2 responeses", "{score_example} if there exists {n} responeses"
)

# DeepSeek-GRM (Rating for Single Response), paper App. G: one response, a 0/1 score (1 = correct).
# Its wording comes from a transcription of the appendix, set in the default's layout (#### headings, no
# emphasis, straight quotes); it is not yet checked byte for byte against the paper's PDF.
SINGLE_RESPONSE_TEMPLATE = """\
You are a skilled little expert at scoring responses. You should evaluate given responses based on the given judging criteria.
Given the context of the conversation (the last round is the User's query) and multiple responses from the Assistant, you need to refer to the [General Evaluation Criteria] to score the responses. Based on the general evaluation criteria, state potential other specific criteria to the query, the weights of different criteria, and then provide an overall comprehensive score upon them. The score is 0 or 1, with 1 indicating that the response is correct.
Before scoring, please analyze step by step. Your scoring needs to be as strict as possible.

#### Evaluation Criteria ####
1. Instruction Adherence:
- Fully Adhered: The response fully complies with all instructions and requirements of the question.
- Partially Adhered: The response meets most of the instructions but has some omissions or misunderstandings.
- Basically Adhered: The response meets some instructions, but the main requirements are not fulfilled.
- Not Adhered: The response does not meet any instructions.
Example: If the question requires three examples and the response provides only one, it falls under "Partially Adhered."
2. Clarity:
- Very Clear: The response is fluent, well-structured, and logically clear.
- Clear but Minor Issues: The response is mostly clear but has some minor language or structural issues.
- Basically Clear: The response has noticeable language or logic issues but is still understandable.
- Not Clear: The response is disjointed, illogical, and hard to understand.
Example: If the response has complex sentence structures and lacks punctuation, it falls under "Basically Clear" or "Not Clear."
3. Accuracy:
- Completely Accurate: All information and data are completely accurate.
- Mostly Accurate: Most information is accurate, with minor errors.
- Some Errors: There are some noticeable errors affecting comprehension.
- Mostly Incorrect: There are numerous errors seriously affecting the credibility of the information.
Example: If a specific data point is incorrectly cited but doesn't affect the overall conclusion, it falls under "Mostly Accurate."

#### Conversation Context ####
{context}
#### Responses to be Scored ####
[The Begin of Response]
{response}
[The End of Response]
#### Output Format Requirements ####
Output with three lines
Specific Criteria: <Other potential criteria specific to the query and the context, and the weights of each criteria>.
Analysis: <Compare different responses based on given Criteria>.
Scores: <the overall comprehensive score of the response, e.g., \\boxed{x}>."""

HINT_LINE = "The best response is: Response {best}"
_PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@dataclass(frozen=True)
class BuiltInTemplate:
    """A template shipped with the code: its text, the score range it asks for and whether it judges
    one response at a time."""

    name: str
    text: str
    description: str
    score_low: int
    score_high: int
    single_response: bool = False


BUILT_IN_TEMPLATES: tuple[BuiltInTemplate, ...] = (
    BuiltInTemplate(
        name="deepseek-grm-default",
        text=DEFAULT_TEMPLATE,
        description="The paper's default prompt (App. G), byte for byte: what DeepSeek-GRM checkpoints were trained on.",
        score_low=1,
        score_high=10,
    ),
    BuiltInTemplate(
        name="deepseek-grm-adapted",
        text=ADAPTED_TEMPLATE,
        description="The default prompt with its score example written for the number of responses shown.",
        score_low=1,
        score_high=10,
    ),
    BuiltInTemplate(
        name="deepseek-grm-single",
        text=SINGLE_RESPONSE_TEMPLATE,
        description="The paper's single-response rating prompt (App. G): one response scored 0 or 1 (1 = correct).",
        score_low=0,
        score_high=1,
        single_response=True,
    ),
)
DEFAULT_TEMPLATE_NAME = BUILT_IN_TEMPLATES[0].name


def response_blocks(responses: Sequence[str]) -> str:
    """The numbered response blocks, 1-based as the model sees them."""
    return "\n".join(
        f"[The Begin of Response {i}]\n{text}\n[The End of Response {i}]" for i, text in enumerate(responses, 1)
    )


def score_example(n: int) -> str:
    return "\\boxed{" + ", ".join(["x"] * n) + "}"


@functools.lru_cache(maxsize=64)
def _pieces(template: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The template split once at its placeholders: the literal texts (one more than the names) and the
    placeholder names between them. Rendering joins them: an export renders a prompt per query."""
    texts: list[str] = []
    names: list[str] = []
    end = 0
    for match in _PLACEHOLDER.finditer(template):
        texts.append(template[end : match.start()])
        names.append(match.group(1))
        end = match.end()
    texts.append(template[end:])
    return tuple(texts), tuple(names)


def uses_placeholder(template: str, name: str) -> bool:
    return name in _pieces(template)[1]


def render(template: str, *, context: str, responses: Sequence[str]) -> str:
    """Fill the named placeholders of `template` for these (already ordered) responses.

    Raises ValueError when the template shows one response (`{response}`) and there are not exactly one.
    """
    texts, names = _pieces(template)
    if "response" in names and len(responses) != 1:
        raise ValueError(
            f"the template shows a single response ({{response}}) but the query has {len(responses)} responses"
        )
    values = {
        "context": context,
        "responses": response_blocks(responses) if "responses" in names else "",
        "response": responses[0] if len(responses) == 1 else "",
        "score_example": score_example(len(responses)),
        "n": str(len(responses)),
    }
    # One pass: text substituted for a placeholder is never scanned again, so a response that
    # contains "{n}" or "{responses}" (code, LaTeX) reaches the model unchanged.
    parts = [texts[0]]
    for name, text in zip(names, texts[1:], strict=True):
        parts += (values[name], text)
    return "".join(parts)
