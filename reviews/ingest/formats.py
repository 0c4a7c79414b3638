"""Record formats accepted by the importer and the upload API, normalised into `QueryItem`s.

- native:     {id?, context | prompt, responses[], best? (0-based) | rating? (1-10), subset?, metadata?}
- preference: {id?, prompt | messages, chosen, rejected, subset?}; chosen/rejected may be strings
              or message lists whose last assistant turn is the response
- llmbar:     {id?, input, output_1, output_2, label (1 or 2)}
- single:     {id?, context | prompt, response, rating (1-10) | correct (true/false: a 0/1 label), subset?}

A field map renames a file's own field names to these before validation.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reviews.ingest.readers import json_type

ROLES = ("system", "user", "assistant")
# Encoders built once: json.dumps with options builds a new encoder on every call.
_CANONICAL = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
_IDENTITY = json.JSONEncoder(ensure_ascii=False).encode
FORMATS = ("native", "preference", "llmbar", "single")
# The fields each format reads (others are ignored): what a file's fields can be renamed to.
FORMAT_FIELDS: dict[str, tuple[str, ...]] = {
    "native": ("id", "context", "prompt", "responses", "best", "rating", "subset", "metadata"),
    "preference": ("id", "prompt", "messages", "chosen", "rejected", "subset"),
    "llmbar": ("id", "input", "output_1", "output_2", "label", "subset"),
    "single": ("id", "context", "prompt", "response", "rating", "correct", "subset", "metadata"),
}
# The fields that tell a format apart, most specific first.
_FORMAT_SIGNS = (
    ("llmbar", {"output_1", "output_2"}),
    ("preference", {"chosen", "rejected"}),
    ("native", {"responses"}),
    ("single", {"response"}),
)


@dataclass(frozen=True)
class Limits:
    max_responses: int = 16
    max_text_chars: int = 200_000


@dataclass
class QueryItem:
    """A validated query with its responses, ready to store."""

    external_id: str
    context: list[dict[str, str]]
    responses: list[tuple[str, dict[str, Any]]]
    best_index: int | None = None
    rating: int | None = None
    subset: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def prompt(self) -> str:
        """The last user turn, as plain text for lists and search."""
        return next((m["content"] for m in reversed(self.context) if m["role"] == "user"), "")

    @property
    def identity_hash(self) -> str:
        """What identifies an item without an id: its conversation and responses, not its labels."""
        canonical = _IDENTITY([self.context, [text for text, _ in self.responses]])
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def content_hash(self) -> str:
        canonical = _CANONICAL([self.context, self.responses, self.best_index, self.rating, self.subset, self.metadata])
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class FieldErrors(Exception):
    """One or more (field, message) problems with a record."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors))
        self.errors = errors


class _Checker:
    """Collects field errors while reading one record, so a record reports all its problems."""

    def __init__(self, record: Mapping[str, Any], limits: Limits) -> None:
        self.record = record
        self.limits = limits
        self.errors: list[tuple[str, str]] = []

    def fail(self, name: str, message: str) -> None:
        self.errors.append((name, message))

    def text(self, name: str, value: Any, *, allow_empty: bool = False) -> str | None:
        if not isinstance(value, str):
            self.fail(name, f"expected a string, got {json_type(value)}")
            return None
        if not allow_empty and not value.strip():
            self.fail(name, "must not be empty")
            return None
        if not self.storable(name, value):
            return None
        if len(value) > self.limits.max_text_chars:
            self.fail(name, f"is {len(value):,} characters, over the limit of {self.limits.max_text_chars:,}")
            return None
        return value

    def required(self, name: str) -> Any:
        if name not in self.record or self.record[name] is None:
            self.fail(name, "is required")
            return None
        return self.record[name]

    def storable(self, name: str, value: str) -> bool:
        """False (with the error) for text no database can hold: NUL, or a lone UTF-16 surrogate."""
        if "\x00" in value:
            self.fail(name, "contains a NUL character (\\u0000), which cannot be stored")
            return False
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            self.fail(name, f"contains an unpaired surrogate (\\u{ord(value[exc.start]):04x}), which is not text")
            return False
        return True

    def external_id(self) -> str | None:
        value = self.record.get("id")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            self.fail("id", f"expected a string or an integer, got {json_type(value)}")
            return None
        text = str(value).strip()
        if not self.storable("id", text):
            return None
        if not text or len(text) > 200:
            self.fail("id", "must be 1 to 200 characters")
            return None
        return text

    def subset(self, default: str) -> str:
        value = self.record.get("subset")
        if value is None:
            return default
        if not isinstance(value, str) or len(value) > 100:
            self.fail("subset", "expected a string of at most 100 characters")
            return default
        if not self.storable("subset", value):
            return default
        return value.strip()

    def messages(self, name: str, value: Any) -> list[dict[str, str]]:
        if not isinstance(value, list):
            self.fail(name, f"expected a list of messages, got {json_type(value)}")
            return []
        if not value:
            self.fail(name, "must hold at least one message")
            return []
        messages: list[dict[str, str]] = []
        for i, message in enumerate(value):
            where = f"{name}[{i}]"
            if not isinstance(message, dict):
                self.fail(where, f"expected an object with role and content, got {json_type(message)}")
                continue
            role = message.get("role")
            if role not in ROLES:
                self.fail(f"{where}.role", f"must be one of {', '.join(ROLES)}, got {role!r}")
                continue
            content = self.text(f"{where}.content", message.get("content"), allow_empty=True)
            if content is not None:
                messages.append({"role": role, "content": content})
        if len(messages) == len(value) and messages[-1]["role"] != "user":
            self.fail(name, "the last message must be the user's query")
        return messages

    def context(self, *names: str) -> list[dict[str, str]]:
        """The conversation from the first present field: a prompt string or a message list."""
        for name in names:
            value = self.record.get(name)
            if value is None:
                continue
            if isinstance(value, str):
                text = self.text(name, value)
                return [{"role": "user", "content": text}] if text is not None else []
            if not isinstance(value, list):
                self.fail(name, f"expected a string or a list of messages, got {json_type(value)}")
                return []
            return self.messages(name, value)
        self.fail(" or ".join(names), "is required")
        return []

    def response(self, name: str, value: Any) -> tuple[str, dict[str, Any]] | None:
        if isinstance(value, dict):
            text = self.text(f"{name}.text", value.get("text"))
            metadata = self.metadata(f"{name}.metadata", value.get("metadata", {}))
            return (text, metadata) if text is not None else None
        text = self.text(name, value)
        return (text, {}) if text is not None else None

    def response_count(self, name: str, count: int) -> bool:
        if count == 0:
            self.fail(name, "must hold at least one response")
            return False
        if count > self.limits.max_responses:
            self.fail(name, f"holds {count} responses, over the limit of {self.limits.max_responses}")
            return False
        return True

    def rating(self, name: str, value: Any) -> int | None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            self.fail(name, f"expected an integer from 1 to 10, got {json.dumps(value)}")
            return None
        if not 1 <= value <= 10:
            self.fail(name, f"must be from 1 to 10, got {value}")
            return None
        return int(value)

    def metadata(self, name: str = "metadata", value: Any = None) -> dict[str, Any]:
        value = self.record.get("metadata", {}) if value is None else value
        if not isinstance(value, dict):
            self.fail(name, f"expected an object, got {json_type(value)}")
            return {}
        dumped = json.dumps(value, ensure_ascii=False)  # JSON writes a NUL as \\u0000
        if not self.storable(name, dumped.replace("\\u0000", "\x00")):
            return {}
        return value

    def done(self) -> None:
        if self.errors:
            raise FieldErrors(self.errors)


def _native(check: _Checker, subset: str) -> QueryItem:
    record = check.record
    external_id = check.external_id()
    context = check.context("context", "prompt")
    raw_responses = check.required("responses")
    responses: list[tuple[str, dict[str, Any]]] = []
    if raw_responses is not None and not isinstance(raw_responses, list):
        check.fail("responses", f"expected a list, got {json_type(raw_responses)}")
    elif raw_responses is not None and check.response_count("responses", len(raw_responses)):
        for i, value in enumerate(raw_responses):
            response = check.response(f"responses[{i}]", value)
            if response is not None:
                responses.append(response)
    best = record.get("best")
    rating = record.get("rating")
    best_index = rating_value = None
    if best is not None and rating is not None:
        check.fail("best", "give either best or rating, not both")
    elif best is not None:
        if isinstance(best, bool) or not isinstance(best, int):
            check.fail("best", f"expected a 0-based response index, got {json.dumps(best)}")
        elif raw_responses is not None and isinstance(raw_responses, list) and not 0 <= best < len(raw_responses):
            check.fail("best", f"is {best} but there are {len(raw_responses)} responses (0-based index)")
        elif isinstance(raw_responses, list) and len(raw_responses) < 2:
            check.fail("best", "needs at least two responses; label one response with rating")
        else:
            best_index = best
    elif rating is not None:
        rating_value = check.rating("rating", rating)
        if isinstance(raw_responses, list) and len(raw_responses) != 1:
            check.fail("rating", "labels a single response; for several responses give best")
    item_subset = check.subset(subset)
    metadata = check.metadata()
    check.done()
    return QueryItem(external_id or "", context, responses, best_index, rating_value, item_subset, metadata)


def _last_assistant(check: _Checker, name: str, value: Any) -> tuple[str | None, list[dict[str, str]]]:
    """A preference side given as text, or as messages ending with the assistant's response
    (the earlier messages, validated, are returned as the conversation before it)."""
    if isinstance(value, list):
        if not value or not isinstance(value[-1], dict) or value[-1].get("role") != "assistant":
            check.fail(name, "a message list must end with the assistant's response")
            return None, []
        text = check.text(f"{name}[{len(value) - 1}].content", value[-1].get("content"))
        prefix = check.messages(name, value[:-1]) if len(value) > 1 else []
        return text, prefix
    return check.text(name, value), []


def _preference(check: _Checker, subset: str) -> QueryItem:
    external_id = check.external_id()
    chosen, chosen_prefix = _last_assistant(check, "chosen", check.required("chosen"))
    rejected, rejected_prefix = _last_assistant(check, "rejected", check.required("rejected"))
    if chosen_prefix and rejected_prefix and chosen_prefix != rejected_prefix:
        check.fail("rejected", "its conversation differs from chosen's: both must answer the same prompt")
    if check.record.get("prompt") is None and check.record.get("messages") is None and chosen_prefix:
        context = chosen_prefix
    else:
        context = check.context("prompt", "messages")
    item_subset = check.subset(subset)
    check.done()
    assert chosen is not None
    assert rejected is not None
    # A preference pair has no order: place the chosen response by the pair's own hash, so stored
    # positions carry no signal (reviewers and position-bias checks see both orders) yet stay stable.
    order_key = hashlib.sha256(json.dumps([context, chosen, rejected]).encode("utf-8")).digest()[0]
    chosen_first = order_key % 2 == 0
    responses: list[tuple[str, dict[str, Any]]] = (
        [(chosen, {}), (rejected, {})] if chosen_first else [(rejected, {}), (chosen, {})]
    )
    return QueryItem(external_id or "", context, responses, 0 if chosen_first else 1, None, item_subset)


def _llmbar(check: _Checker, subset: str) -> QueryItem:
    external_id = check.external_id()
    context = check.context("input")
    first = check.text("output_1", check.required("output_1"))
    second = check.text("output_2", check.required("output_2"))
    label = check.required("label")
    if label is not None and (isinstance(label, bool) or label not in (1, 2)):
        check.fail("label", f"must be 1 or 2, got {json.dumps(label)}")
    item_subset = check.subset(subset)
    check.done()
    assert first is not None
    assert second is not None
    return QueryItem(external_id or "", context, [(first, {}), (second, {})], int(label) - 1, None, item_subset)


def _single(check: _Checker, subset: str) -> QueryItem:
    external_id = check.external_id()
    context = check.context("context", "prompt")
    response = check.response("response", check.required("response"))
    rating = check.record.get("rating")
    correct = check.record.get("correct")
    rating_value = None
    if rating is not None and correct is not None:
        check.fail("rating", "give either rating or correct, not both")
    elif rating is not None:
        rating_value = check.rating("rating", rating)
    elif correct is not None:
        if not isinstance(correct, bool):
            check.fail("correct", f"expected true or false, got {json.dumps(correct)}")
        else:
            # The paper's single-response label (App. C.1): 1 correct, 0 not, scored by a 0/1 template.
            rating_value = 1 if correct else 0
    else:
        check.fail("rating", "is required (or give correct: true/false)")
    item_subset = check.subset(subset)
    metadata = check.metadata()
    check.done()
    assert response is not None
    return QueryItem(external_id or "", context, [response], None, rating_value, item_subset, metadata)


_PARSERS: dict[str, Callable[[_Checker, str], QueryItem]] = {
    "native": _native,
    "preference": _preference,
    "llmbar": _llmbar,
    "single": _single,
}


def guess_format(fields: Iterable[str]) -> str | None:
    """The format whose telling fields a record has (after renaming), or None."""
    present = set(fields)
    return next((fmt for fmt, signs in _FORMAT_SIGNS if signs <= present), None)


def parse_field_map(spec: str) -> dict[str, str]:
    """`--map a=b,c=d` renames the file's field a to b and c to d."""
    mapping: dict[str, str] = {}
    for pair in filter(None, (part.strip() for part in spec.split(","))):
        source, sep, target = pair.partition("=")
        if not sep or not source.strip() or not target.strip():
            raise ValueError(f"bad --map entry {pair!r}: use source=target, e.g. instruction=input")
        mapping[source.strip()] = target.strip()
    return mapping


def normalize(
    record: Mapping[str, Any],
    fmt: str,
    *,
    field_map: Mapping[str, str] | None = None,
    subset: str = "",
    limits: Limits = Limits(),
) -> QueryItem:
    """Validate one record of format `fmt`; raise FieldErrors naming each bad field."""
    if fmt not in _PARSERS:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if field_map:
        record = {field_map.get(key, key): value for key, value in record.items()}
    item = _PARSERS[fmt](_Checker(record, limits), subset)
    if not item.external_id:
        # No id in the file: the conversation and responses identify the item, so re-imports stay
        # idempotent and a changed label or subset shows up as a conflict, not a second copy.
        item.external_id = "sha256:" + item.identity_hash[:32]
    return item
