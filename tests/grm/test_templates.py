"""The default template reproduces the paper's prompt byte for byte for any number of responses; the
adapted and single-response templates; the registry; named placeholders only."""

import pytest

from tests.conftest import ROOT
from workers.grm.prompts import build_prompt, meta_rm_input, render_context
from workers.grm.templates import (
    ADAPTED_TEMPLATE,
    BUILT_IN_TEMPLATES,
    DEFAULT_TEMPLATE,
    SINGLE_RESPONSE_TEMPLATE,
    render,
    response_blocks,
)

PAPER_BLOCKS = (
    "[The Begin of Response 1]\n{the 1st response}\n[The End of Response 1]\n"
    "[The Begin of Response 2]\n{the 2nd response}\n[The End of Response 2]"
)
PAPER_EXAMPLE = "e.g., \\boxed{x, x} if there exists 2 responeses>."

SPEC = ROOT.parent / "shared" / "GRM_SPEC.md"


def paper_prompt() -> str:
    if not SPEC.exists():
        pytest.skip(f"spec not found at {SPEC}")
    text = SPEC.read_text()
    start = text.index("```\n", text.index("## 2. The default prompt")) + 4
    return text[start : text.index("\n```", start)]


def test_default_template_with_two_responses_is_the_paper_prompt_byte_for_byte():
    rendered = render(
        DEFAULT_TEMPLATE,
        context="{conversation context & query}",
        responses=["{the 1st response}", "{the 2nd response}"],
    )
    assert rendered == paper_prompt()


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_default_template_is_the_paper_prompt_for_any_number_of_responses(n):
    responses = [f"response number {i}" for i in range(n)]
    rendered = render(DEFAULT_TEMPLATE, context="{conversation context & query}", responses=responses)
    assert rendered == paper_prompt().replace(PAPER_BLOCKS, response_blocks(responses))


def test_default_template_with_three_responses_keeps_the_papers_example_line():
    rendered = render(DEFAULT_TEMPLATE, context="Q", responses=["a", "b", "c"])
    assert "[The Begin of Response 3]\nc\n[The End of Response 3]" in rendered
    assert rendered.endswith(PAPER_EXAMPLE)


def test_adapted_template_writes_the_example_for_the_responses_shown():
    rendered = render(ADAPTED_TEMPLATE, context="Q", responses=["a", "b", "c"])
    assert "e.g., \\boxed{x, x, x} if there exists 3 responeses" in rendered
    two = render(ADAPTED_TEMPLATE, context="{conversation context & query}", responses=["x", "y"])
    assert two == render(DEFAULT_TEMPLATE, context="{conversation context & query}", responses=["x", "y"])


def test_single_response_template_renders_the_response_and_refuses_several():
    rendered = render(SINGLE_RESPONSE_TEMPLATE, context="What is 2 + 2?", responses=["4"])
    assert "#### Conversation Context ####\nWhat is 2 + 2?\n" in rendered
    assert "[The Begin of Response]\n4\n[The End of Response]\n" in rendered
    assert "The score is 0 or 1, with 1 indicating that the response is correct." in rendered
    assert 'it falls under "Mostly Accurate."' in rendered  # straight ASCII quotes
    assert rendered.endswith("Scores: <the overall comprehensive score of the response, e.g., \\boxed{x}>.")
    assert "{" not in rendered.replace("\\boxed{x}", "")
    with pytest.raises(ValueError, match="2 responses"):
        render(SINGLE_RESPONSE_TEMPLATE, context="Q", responses=["a", "b"])
    with pytest.raises(ValueError, match="single response"):
        render("{response}", context="Q", responses=[])


def test_built_in_templates_registry():
    by_name = {template.name: template for template in BUILT_IN_TEMPLATES}
    assert list(by_name) == ["deepseek-grm-default", "deepseek-grm-adapted", "deepseek-grm-single"]
    assert BUILT_IN_TEMPLATES[0].text == DEFAULT_TEMPLATE
    assert (by_name["deepseek-grm-default"].score_low, by_name["deepseek-grm-default"].score_high) == (1, 10)
    assert by_name["deepseek-grm-adapted"].text == ADAPTED_TEMPLATE
    single = by_name["deepseek-grm-single"]
    assert (single.text, single.score_low, single.score_high) == (SINGLE_RESPONSE_TEMPLATE, 0, 1)
    assert single.single_response
    assert not any(template.single_response for template in BUILT_IN_TEMPLATES[:2])
    assert all(template.description for template in BUILT_IN_TEMPLATES)


def test_only_named_placeholders_are_replaced():
    assert render("{context} {other} \\boxed{x}", context="C", responses=["a"]) == "C {other} \\boxed{x}"
    assert render("{n}: {response}", context="C", responses=["{responses}"]) == "1: {responses}"


def test_context_rendering():
    assert render_context([{"role": "user", "content": "Hi"}]) == "Hi"
    turns = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Yo"},
        {"role": "user", "content": "Q"},
    ]
    assert render_context(turns) == "User: Hi\nAssistant: Yo\nUser: Q"


def test_prompt_is_one_user_message_with_responses_in_shown_order():
    prompt = build_prompt(
        DEFAULT_TEMPLATE,
        context=[{"role": "user", "content": "Q"}],
        responses=["A0", "A1", "A2"],
        permutation=[2, 0, 1],
    )
    assert [m["role"] for m in prompt.messages] == ["user"]
    text = prompt.messages[0]["content"]
    assert text.index("A2") < text.index("A0") < text.index("A1")
    assert "[The Begin of Response 1]\nA2\n" in text
    assert not prompt.hinted


def test_hinted_prompt_names_the_shown_position_of_the_labelled_best():
    prompt = build_prompt(
        DEFAULT_TEMPLATE,
        context=[{"role": "user", "content": "Q"}],
        responses=["A0", "A1", "A2"],
        permutation=[2, 0, 1],
        hint_best=0,
    )
    assert prompt.messages[0]["content"].endswith("\nThe best response is: Response 2")
    assert prompt.hinted


def test_meta_rm_input_layout():
    messages = meta_rm_input(
        context=[{"role": "user", "content": "Q"}],
        responses=["A0", "A1"],
        permutation=[1, 0],
        principles="P",
        critique="C",
    )
    assert messages[0]["content"] == (
        "Please score the responses.\n#### Conversation Context ####\nQ\n#### Responses to be Scored ####\n"
        "[The Begin of Response 1]\nA1\n[The End of Response 1]\n[The Begin of Response 2]\nA0\n[The End of Response 2]"
    )
    assert messages[1] == {"role": "assistant", "content": "Specific Criteria: P\nAnalysis: C"}


def test_placeholders_inside_responses_and_context_reach_the_model_unchanged():
    responses = ['print(f"{n}")', "x^{n} and {responses} and {context}"]
    rendered = render(ADAPTED_TEMPLATE, context="Why {score_example}?", responses=responses)
    assert 'print(f"{n}")' in rendered
    assert "x^{n} and {responses} and {context}" in rendered
    assert "Why {score_example}?" in rendered
