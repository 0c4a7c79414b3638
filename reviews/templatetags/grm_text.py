"""Template filters for untrusted text: model outputs (principles, critiques) and uploads (prompts, responses).

`{{ text|markdown }}` parses CommonMark with raw HTML disabled, then passes the HTML through an nh3
allow-list, so neither the source nor the parser can put a script, an event handler, a javascript: URL
or a loading resource on the page. `{{ text|plain_preview:200 }}` is a one-line escaped excerpt.
"""

from __future__ import annotations

import functools
import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString

from reviews.rendering import MARKDOWN_MAX_CHARS, PARSER, markdown_html, raw_output_html

register = template.Library()

_PARSER = PARSER  # the parser the pages use (reviews.rendering)
PREVIEW_DEFAULT_CHARS = 200
# \S runs capped at a length, so one enormous "word" is not scanned past what a preview can show.
_WORD_CHUNK = r"\S{1,%d}"


def render_markdown(text: str) -> SafeString:
    """Sanitized HTML for untrusted Markdown (reviews.rendering.markdown_html); over MARKDOWN_MAX_CHARS,
    the escaped text in a <pre>."""
    if len(text) > MARKDOWN_MAX_CHARS:
        return markdown_html(text)
    return _render_cached(text)  # a SafeString input is parsed and sanitized like any other


@functools.lru_cache(maxsize=1024)
def _render_cached(text: str) -> SafeString:
    """For texts a page renders itself (guidelines in the help dialog, edited notes): pages showing
    stored texts read them through reviews.rendering.html_of, rendered once."""
    return markdown_html(text)


def plain_preview_text(text: str, limit: int) -> str:
    """The first `limit` characters of `text` with whitespace runs collapsed to one space, "…" when cut."""
    if limit <= 0:
        return ""
    words: list[str] = []
    length = -1
    for match in re.finditer(_WORD_CHUNK % (limit + 1), text):
        words.append(match.group())
        length += len(match.group()) + 1
        if length > limit:
            return " ".join(words)[:limit].rstrip() + "…"
    return " ".join(words)


@register.filter(name="markdown")
def markdown_filter(value: object) -> SafeString:
    """`{{ text|markdown }}`: the input is never trusted, even a SafeString; None renders as nothing."""
    return render_markdown("" if value is None else str(value))


@register.filter(name="plain_preview")
def plain_preview_filter(value: object, limit: int | str = PREVIEW_DEFAULT_CHARS) -> SafeString:
    """`{{ text|plain_preview:200 }}`: a one-line, escaped excerpt for tables and lists."""
    return escape(plain_preview_text("" if value is None else str(value), int(limit)))


@register.simple_tag
def raw_output(sample: object, n_responses: int, score_low: int = 1, score_high: int = 10) -> SafeString:
    """A sample's whole output as the model wrote it, with what the parser read highlighted
    (reviews.rendering.raw_output_html). For a `<pre>`: the text keeps its line breaks."""
    return raw_output_html(
        str(getattr(sample, "raw_text", "")),
        int(n_responses),
        low=int(score_low),
        high=int(score_high),
        forced=bool(getattr(sample, "forced", False)),
    )
