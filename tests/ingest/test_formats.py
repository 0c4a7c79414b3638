"""Record formats: each normalises to the same QueryItem, and each bad field is named."""

import pytest

from reviews.ingest.formats import FieldErrors, Limits, normalize, parse_field_map


def errors_of(record, fmt, **kwargs):
    with pytest.raises(FieldErrors) as caught:
        normalize(record, fmt, **kwargs)
    return dict(caught.value.errors)


def test_native_with_context_and_best():
    item = normalize(
        {
            "id": "q1",
            "subset": "chat",
            "context": [{"role": "user", "content": "Hi?"}],
            "responses": ["Hello", {"text": "Hey", "metadata": {"policy": "m1"}}],
            "best": 1,
        },
        "native",
    )
    assert item.external_id == "q1"
    assert item.context == [{"role": "user", "content": "Hi?"}]
    assert item.responses == [("Hello", {}), ("Hey", {"policy": "m1"})]
    assert item.best_index == 1
    assert item.rating is None
    assert item.subset == "chat"


def test_native_prompt_string_becomes_one_user_turn_and_id_defaults_to_identity_hash():
    item = normalize({"prompt": "Hi?", "responses": ["A"], "rating": 7}, "native")
    assert item.context == [{"role": "user", "content": "Hi?"}]
    assert item.rating == 7
    assert item.external_id == "sha256:" + item.identity_hash[:32]


def test_integer_ids_are_accepted_as_text():
    assert normalize({"id": 12, "prompt": "p", "responses": ["a", "b"], "best": 0}, "native").external_id == "12"


@pytest.mark.parametrize(
    ("record", "field", "fragment"),
    [
        ({"responses": ["a", "b"]}, "context or prompt", "is required"),
        ({"prompt": "p"}, "responses", "is required"),
        ({"prompt": "p", "responses": []}, "responses", "at least one"),
        ({"prompt": "p", "responses": "ab"}, "responses", "expected a list, got string"),
        ({"prompt": "p", "responses": ["a", 3]}, "responses[1]", "expected a string, got number"),
        ({"prompt": "p", "responses": ["a", " "]}, "responses[1]", "must not be empty"),
        ({"prompt": "p", "responses": ["a", "b"], "best": 2}, "best", "there are 2 responses"),
        ({"prompt": "p", "responses": ["a", "b"], "best": "1"}, "best", "0-based response index"),
        ({"prompt": "p", "responses": ["a", "b"], "best": True}, "best", "0-based response index"),
        ({"prompt": "p", "responses": ["a"], "rating": 11}, "rating", "from 1 to 10"),
        ({"prompt": "p", "responses": ["a"], "rating": 7.5}, "rating", "integer from 1 to 10"),
        ({"prompt": "p", "responses": ["a", "b"], "rating": 7}, "rating", "single response"),
        ({"prompt": "p", "responses": ["a", "b"], "best": 0, "rating": 3}, "best", "not both"),
        ({"prompt": 5, "responses": ["a"]}, "prompt", "expected a string or a list of messages, got number"),
        ({"context": [{"role": "bot", "content": "x"}], "responses": ["a"]}, "context[0].role", "must be one of"),
        ({"context": [{"role": "user", "content": 1}], "responses": ["a"]}, "context[0].content", "expected a string"),
        ({"context": [{"role": "assistant", "content": "x"}], "responses": ["a"]}, "context", "last message"),
        ({"id": [1], "prompt": "p", "responses": ["a"]}, "id", "string or an integer"),
        ({"prompt": "p", "responses": ["a"], "subset": 3}, "subset", "string"),
        ({"prompt": "p", "responses": ["a"], "metadata": []}, "metadata", "expected an object"),
    ],
)
def test_native_errors_name_the_field(record, field, fragment):
    errors = errors_of(record, "native")
    assert field in errors, errors
    assert fragment in errors[field]


def test_a_record_reports_all_its_bad_fields_at_once():
    errors = errors_of({"prompt": 1, "responses": ["", "b"], "best": 9}, "native")
    assert set(errors) == {"prompt", "responses[0]", "best"}


def test_limits_on_responses_and_text_length_name_the_cap():
    limits = Limits(max_responses=3, max_text_chars=10)
    assert (
        "over the limit of 3"
        in errors_of({"prompt": "p", "responses": ["a"] * 4}, "native", limits=limits)["responses"]
    )
    too_long = errors_of({"prompt": "p", "responses": ["a" * 11]}, "native", limits=limits)["responses[0]"]
    assert "over the limit of 10" in too_long


def test_llmbar_label_is_one_based_in_the_file_and_zero_based_stored():
    item = normalize({"input": "Q", "output_1": "A", "output_2": "B", "label": 2}, "llmbar", subset="Natural")
    assert item.responses == [("A", {}), ("B", {})]
    assert item.best_index == 1
    assert item.subset == "Natural"


@pytest.mark.parametrize("label", [0, 3, "1", None, True])
def test_llmbar_bad_labels(label):
    record = {"input": "Q", "output_1": "A", "output_2": "B", "label": label}
    assert "label" in errors_of(record, "llmbar")


def test_preference_places_chosen_by_content_hash_and_labels_it():
    positions = set()
    for i in range(20):
        item = normalize({"prompt": f"Q{i}", "chosen": "good", "rejected": "bad"}, "preference")
        assert item.best_index is not None
        assert item.responses[item.best_index][0] == "good"
        assert item.responses[1 - item.best_index][0] == "bad"
        positions.add(item.best_index)
        again = normalize({"prompt": f"Q{i}", "chosen": "good", "rejected": "bad"}, "preference")
        assert again.best_index == item.best_index
    assert positions == {0, 1}


def test_preference_accepts_message_lists():
    chosen = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "good"}]
    rejected = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "bad"}]
    item = normalize({"chosen": chosen, "rejected": rejected}, "preference")
    assert item.context == [{"role": "user", "content": "Q"}]
    assert item.best_index is not None
    assert item.responses[item.best_index][0] == "good"
    with_messages = normalize(
        {"messages": [{"role": "user", "content": "Q"}], "chosen": "g", "rejected": "b"}, "preference"
    )
    assert with_messages.context == [{"role": "user", "content": "Q"}]


def test_preference_errors():
    assert "chosen" in errors_of({"prompt": "Q", "rejected": "b"}, "preference")
    errors = errors_of({"prompt": "Q", "chosen": [{"role": "user", "content": "x"}], "rejected": "b"}, "preference")
    assert "assistant" in errors["chosen"]


def test_single_takes_a_rating_or_the_papers_binary_label():
    assert normalize({"prompt": "Q", "response": "A", "rating": 4}, "single").rating == 4
    # App. C.1: a 0/1 label, not a rating at the ends of the 1-10 scale.
    assert normalize({"prompt": "Q", "response": "A", "correct": True}, "single").rating == 1
    assert normalize({"prompt": "Q", "response": "A", "correct": False}, "single").rating == 0
    assert "rating" in errors_of({"prompt": "Q", "response": "A"}, "single")
    assert "correct" in errors_of({"prompt": "Q", "response": "A", "correct": "yes"}, "single")


def test_field_map_renames_before_validation():
    mapping = parse_field_map("instruction=input, response1=output_1,response2=output_2,bias=subset")
    item = normalize(
        {"instruction": "Q", "response1": "A", "response2": "B", "label": 1, "bias": "length bias"},
        "llmbar",
        field_map=mapping,
    )
    assert item.best_index == 0
    assert item.subset == "length bias"


@pytest.mark.parametrize("spec", ["input", "=input", "a=", "a=b,c"])
def test_bad_field_map_is_refused(spec):
    with pytest.raises(ValueError, match="--map"):
        parse_field_map(spec)


def test_unknown_format_is_refused():
    with pytest.raises(ValueError, match="unknown format"):
        normalize({}, "csv")


def test_content_hash_changes_with_content_only():
    record = {"id": "x", "prompt": "Q", "responses": ["a", "b"], "best": 0}
    first = normalize(record, "native").content_hash
    assert normalize(dict(record), "native").content_hash == first
    assert normalize({**record, "best": 1}, "native").content_hash != first


def test_generated_ids_identify_the_conversation_not_the_labels():
    base = {"prompt": "Q", "responses": ["a", "b"], "best": 0}
    first = normalize(base, "native")
    relabelled = normalize({**base, "best": 1, "subset": "other"}, "native")
    assert first.external_id == relabelled.external_id
    assert first.content_hash != relabelled.content_hash


def test_nul_characters_are_refused_by_field():
    assert "NUL" in errors_of({"prompt": "Q\x00", "responses": ["a"]}, "native")["prompt"]
    assert "NUL" in errors_of({"prompt": "Q", "responses": ["a"], "metadata": {"k": "\x00"}}, "native")["metadata"]
    errors = errors_of({"prompt": "Q", "responses": [{"text": "a", "metadata": {"\x00": 1}}]}, "native")
    assert "NUL" in errors["responses[0].metadata"]


def test_preference_conversations_are_validated_and_must_match():
    chosen = [{"role": "user", "content": None}, {"role": "assistant", "content": "good"}]
    errors = errors_of({"chosen": chosen, "rejected": "bad"}, "preference")
    assert "chosen[0].content" in errors
    other = [{"role": "user", "content": "Other question"}, {"role": "assistant", "content": "bad"}]
    good = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "good"}]
    assert "differs" in errors_of({"chosen": good, "rejected": other}, "preference")["rejected"]


def test_text_no_database_can_hold_is_refused_by_field():
    surrogate = {"id": "s", "prompt": "Q\ud800", "responses": ["a"], "rating": 3}
    assert "unpaired surrogate (\\ud800)" in errors_of(surrogate, "native")["prompt"]
    assert "NUL" in errors_of({"id": "a\x00b", "prompt": "Q", "responses": ["a"], "rating": 3}, "native")["id"]
    assert "NUL" in errors_of({"prompt": "Q", "responses": ["a"], "rating": 3, "subset": "x\x00"}, "native")["subset"]
    errors = errors_of({"prompt": "Q", "responses": ["a"], "rating": 3, "metadata": {"k": "\udfff"}}, "native")
    assert "surrogate" in errors["metadata"]
