"""The split by query, the class weight and the text the meta RM reads."""

import pytest

from tests.metarm.conftest import byte_tokenizer
from workers.metarm import MetaExample, encode, positive_weight, split_by_group


def examples(groups: int, per_group: int = 3) -> list[MetaExample]:
    return [
        MetaExample(group=f"g{group}", messages=[], label=(group + index) % 2)
        for group in range(groups)
        for index in range(per_group)
    ]


def test_split_never_puts_a_query_on_both_sides():
    data = examples(20)
    split = split_by_group(data, validation_fraction=0.2, seed=3)
    train_groups = {example.group for example in split.train}
    validation_groups = {example.group for example in split.validation}
    assert not train_groups & validation_groups
    assert train_groups | validation_groups == {example.group for example in data}
    assert len(validation_groups) == 4
    assert len(split.train) + len(split.validation) == len(data)


def test_split_is_seeded():
    data = examples(30)
    first = split_by_group(data, seed=7)
    assert first == split_by_group(data, seed=7)
    others = [split_by_group(data, seed=seed).validation for seed in range(8, 12)]
    assert any(validation != first.validation for validation in others)


def test_two_queries_split_one_each_side():
    data = [MetaExample(group=group, messages=[], label=label) for group in ("a", "b") for label in (0, 1)]
    split = split_by_group(data, validation_fraction=0.2, seed=0)
    assert len({example.group for example in split.train}) == 1
    assert len({example.group for example in split.validation}) == 1


def test_split_refuses_fewer_than_two_queries():
    with pytest.raises(ValueError, match="at least 2 queries"):
        split_by_group(examples(1), seed=0)


def test_split_refuses_a_single_class():
    data = [MetaExample(group=f"g{index}", messages=[], label=1) for index in range(5)]
    with pytest.raises(ValueError, match="0 incorrect"):
        split_by_group(data, seed=0)


def test_split_refuses_when_no_split_gives_each_side_both_classes():
    # Each query holds one class only, and there are two queries: one side always lacks a class.
    data = [MetaExample(group="a", messages=[], label=1), MetaExample(group="b", messages=[], label=0)]
    with pytest.raises(ValueError, match="both sides"):
        split_by_group(data, seed=0)


def test_split_leaves_out_unlabelled_and_refuses_other_labels():
    data = [*examples(6), MetaExample(group="g0", messages=[], label=None)]
    split = split_by_group(data, seed=0)
    assert all(example.label is not None for example in split.train + split.validation)
    with pytest.raises(ValueError, match="0, 1 or None"):
        split_by_group([*examples(6), MetaExample(group="g0", messages=[], label=2)], seed=0)


def test_positive_weight_is_negatives_over_positives():
    assert positive_weight([1, 0, 0, 0]) == 3.0
    assert positive_weight([1, 1, 1, 0]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="both classes"):
        positive_weight([1, 1])


def judgment(context: str, critique: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": context}, {"role": "assistant", "content": critique}]


def test_encode_keeps_a_short_input_whole():
    tokenizer = byte_tokenizer()
    messages = judgment("Please score the responses. short", "Analysis: fine")
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    assert encode(tokenizer, messages, max_length=1000) == tokenizer(text, add_special_tokens=False)["input_ids"]


def test_encode_cuts_the_start_of_the_user_turn_and_keeps_the_judgment():
    tokenizer = byte_tokenizer()
    critique = "Specific Criteria: accuracy.\nAnalysis: Response 2 is best."
    messages = judgment("START " + "context " * 100 + "END", critique)
    ids = encode(tokenizer, messages, max_length=120)
    text = tokenizer.decode(ids)
    assert len(ids) == 120
    assert text.startswith("<|im_start|>user\n")
    assert text.endswith(f"<|im_start|>assistant\n{critique}<|im_end|>\n")
    assert "END<|im_end|>" in text
    assert "START" not in text


def test_encode_keeps_the_end_when_the_judgment_alone_is_too_long():
    tokenizer = byte_tokenizer()
    messages = judgment("context", "analysis " * 50 + "VERDICT")
    text = tokenizer.decode(encode(tokenizer, messages, max_length=40))
    assert text.endswith("VERDICT<|im_end|>\n")
