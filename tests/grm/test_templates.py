"""The default template reproduces the paper's prompt byte for byte; named placeholders only."""

from tests.conftest import ROOT
from workers.grm.prompts import build_prompt, meta_rm_input, render_context
from workers.grm.templates import DEFAULT_TEMPLATE, render

SPEC = ROOT.parent / "shared" / "GRM_SPEC.md"


def paper_prompt() -> str:
    import pytest

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


def test_three_responses_get_three_blocks_and_a_matching_example():
    rendered = render(DEFAULT_TEMPLATE, context="Q", responses=["a", "b", "c"])
    assert "[The Begin of Response 3]\nc\n[The End of Response 3]" in rendered
    assert "e.g., \\boxed{x, x, x} if there exists 3 responeses" in rendered


def test_only_named_placeholders_are_replaced():
    assert render("{context} {other} \\boxed{x}", context="C", responses=["a"]) == "C {other} \\boxed{x}"


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
    rendered = render(DEFAULT_TEMPLATE, context="Why {score_example}?", responses=responses)
    assert 'print(f"{n}")' in rendered
    assert "x^{n} and {responses} and {context}" in rendered
    assert "Why {score_example}?" in rendered
