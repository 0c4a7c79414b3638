"""What a query's judgments look like on a page: the conversation, the responses and the samples,
each with its sanitized HTML read in one statement from what `reviews.rendering` stored.

The query page and the review item both build their cards here. A sample's raw output is part of its
card only when the card shows it open (its scores could not be read, or were forced); folded, it is
fetched when the reviewer opens it (`sample_raw`), so a page does not carry eight outputs nobody opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.safestring import SafeString

from reviews import rendering
from reviews.models import Query, Response, Sample
from workers.grm.voting import top_choice


@dataclass(frozen=True)
class Message:
    role: str
    html: SafeString


@dataclass(frozen=True)
class ResponseCard:
    response: Response
    html: SafeString


@dataclass(frozen=True)
class SampleCard:
    sample: Sample
    chosen: int | None  # the response it scored highest
    principles: SafeString
    critique: SafeString
    raw: SafeString | None  # only when shown open; else fetched on opening

    @property
    def raw_open(self) -> bool:
        return raw_shown_open(self.sample)


@dataclass
class Cards:
    messages: list[Message] = field(default_factory=list)
    responses: list[ResponseCard] = field(default_factory=list)
    samples: list[SampleCard] = field(default_factory=list)
    extra: list[SafeString] = field(default_factory=list)  # the `extra` Markdown texts, rendered


def raw_shown_open(sample: Sample) -> bool:
    """A raw output the reviewer must read: its scores could not be read, or were forced after it."""
    return sample.parse_status != Sample.ParseStatus.OK or sample.forced


def _raw_source(sample: Sample, n_responses: int, score_low: int, score_high: int) -> rendering.Source:
    return rendering.raw_output(sample.raw_text, n_responses, low=score_low, high=score_high, forced=sample.forced)


def judgment_cards(
    *,
    query: Query,
    responses: Sequence[Response],
    samples: Sequence[Sample],
    score_low: int = 1,
    score_high: int = 10,
    extra: Sequence[str] = (),
) -> Cards:
    """The cards of a query, its responses and samples, and `extra` Markdown (a queue's guidelines):
    every text's HTML in one statement (rendering.html_of)."""
    context: list[Any] = query.context if isinstance(query.context, list) else []
    messages = [
        (str(message.get("role", "")), str(message.get("content", "")))
        for message in context
        if isinstance(message, dict)
    ]
    sources: list[rendering.Source] = [rendering.markdown(content) for _, content in messages]
    sources += [rendering.markdown(response.text) for response in responses]
    for sample in samples:
        sources += [rendering.markdown(sample.principles), rendering.markdown(sample.critique)]
        if raw_shown_open(sample):
            sources.append(_raw_source(sample, len(responses), score_low, score_high))
    sources += [rendering.markdown(text) for text in extra]
    html = rendering.html_of(sources)
    cards = Cards(
        messages=[Message(role, html[rendering.markdown(content)]) for role, content in messages],
        responses=[ResponseCard(response, html[rendering.markdown(response.text)]) for response in responses],
        extra=[html[rendering.markdown(text)] for text in extra],
    )
    for sample in samples:
        raw = html[_raw_source(sample, len(responses), score_low, score_high)] if raw_shown_open(sample) else None
        principles, critique = html[rendering.markdown(sample.principles)], html[rendering.markdown(sample.critique)]
        cards.samples.append(SampleCard(sample, top_choice(sample.scores), principles, critique, raw))
    return cards


def sample_raw(*, sample_id: int) -> tuple[Sample, SafeString]:
    """A sample and its raw output's HTML, as its card shows it once opened (three statements)."""
    sample = Sample.objects.select_related("run__template", "query__dataset").get(pk=sample_id)
    responses = Response.objects.filter(query_id=sample.query_id).count()
    template = sample.run.template
    source = _raw_source(sample, responses, template.score_low, template.score_high)
    return sample, rendering.html_of([source])[source]
