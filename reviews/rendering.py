"""Untrusted text as sanitized HTML, rendered once and kept.

Two renderings: Markdown (prompts, responses, principles, critiques, guidelines), parsed as CommonMark
with raw HTML disabled and passed through an nh3 allow-list, so neither the source nor the parser can
put a script, an event handler, a javascript: URL or a loading resource on the page; and a sample's raw
output, escaped, with what the parser read highlighted (`workers.grm.parsing.anatomy`).

Markdown costs about 0.25 ms per 500 characters on the development machine and a review item shows
some twenty texts, so the HTML is kept in `RenderedText`, keyed by a digest of the renderer's version,
the kind of rendering and the text (`Source.key`). `prerender` fills it when texts are stored (a run's
judgments as the worker stores them, a dataset's queries and responses after an upload, a queue's
guidelines); `html_of` is how pages read it, in one statement, rendering and storing on the way
whatever it does not find (texts stored before this cache, or by a path that does not prerender).
Changing what the renderer writes means raising RENDERER_VERSION: pages then read new keys, and
`prune` deletes the old version's rows.

Only models are imported here: services (at store time) and selectors (at read time) both use it.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import nh3
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath import texmath_plugin

from reviews.models import RenderedText
from workers.grm.parsing import anatomy

# Raise when the HTML either rendering writes changes (the allow-list, a render rule, the parser's plugins).
RENDERER_VERSION = 1
# Longer texts are shown verbatim: parsing costs ~1.5 ms per 1,000 characters, ~15 ms for runs of "![" or "[".
MARKDOWN_MAX_CHARS = 100_000
BATCH = 500  # texts per statement when storing

ALLOWED_TAGS = frozenset(
    {
        "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
        "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a",
    }
)  # fmt: skip
# Besides a link's href and title, only `start`: it keeps "3. ..." numbered 3 when a critique resumes a list.
ALLOWED_ATTRIBUTES = {"a": frozenset({"href", "title"}), "ol": frozenset({"start"})}
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto"})
LINK_REL = "nofollow noopener noreferrer"


def _render_strikethrough(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """`~~x~~` as <del> (markdown-it emits <s>), the element the allow-list names."""
    return "<del>" if tokens[idx].nesting == 1 else "</del>"


def _render_image_as_link(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType
) -> str:
    """An image becomes a link labelled with its alt text: nothing loads, and the reviewer still sees the URL.

    Inside a link (`[![alt](img)](url)`) it is the alt text alone, since links do not nest.
    """
    image = tokens[idx]
    alt = self.renderInlineAsText(image.children or [], options, env)
    open_links = 0
    for token in tokens[:idx]:
        open_links += token.type == "link_open"
        open_links -= token.type == "link_close"
    if open_links > 0:
        return escapeHtml(alt)
    src = str(image.attrGet("src") or "")
    title = image.attrGet("title")
    title_attr = f' title="{escapeHtml(str(title))}"' if title else ""
    return f'<a href="{escapeHtml(src)}"{title_attr}>{escapeHtml(alt or src)}</a>'


def _render_math(self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """LaTeX as escaped text in a marked element (`span.math.inline`, `span.math.display` for an inline
    `$$...$$`, `div.math.block`): the browser's KaTeX (static/js/math.js) typesets it from the text."""
    token = tokens[idx]
    if token.type == "math_block":
        return f'<div class="math block">{escapeHtml(token.content)}</div>\n'
    kind = "display" if token.type == "math_inline_double" else "inline"
    return f'<span class="math {kind}">{escapeHtml(token.content)}</span>'


def _build_parser() -> MarkdownIt:
    # html=False: raw HTML in the source is text; linkify off: bare URLs stay text (and need no extra package).
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable(["table", "strikethrough"])
    # Math is taken out before Markdown reads it ("\{", "\\" and "_" would otherwise be Markdown's):
    # $...$ and $$...$$ (not around digits or spaces, so "$5 and $10" stays text), \(...\) and \[...\].
    parser.use(dollarmath_plugin, allow_labels=False, allow_space=False, allow_digits=False, double_inline=True)
    parser.use(texmath_plugin, delimiters="brackets")
    for rule in ("math_inline", "math_inline_double", "math_block"):
        parser.add_render_rule(rule, _render_math)
    parser.add_render_rule("s_open", _render_strikethrough)
    parser.add_render_rule("s_close", _render_strikethrough)
    parser.add_render_rule("image", _render_image_as_link)
    return parser


PARSER = _build_parser()
# Relative URLs are denied: a model's "/admin/..." or "//host" link means nothing here, so only absolute
# http(s) and mailto links keep an href.
_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS | {"span", "div"},
    allowed_classes={"span": {"math", "inline", "display"}, "div": {"math", "block"}},  # math only
    clean_content_tags=frozenset({"script", "style"}),
    attributes=ALLOWED_ATTRIBUTES,
    url_schemes=ALLOWED_URL_SCHEMES,
    link_rel=LINK_REL,
    strip_comments=True,
    url_relative="deny",
)


def markdown_html(text: str) -> SafeString:
    """Sanitized HTML for untrusted Markdown; over MARKDOWN_MAX_CHARS, the escaped text in a <pre>."""
    if len(text) > MARKDOWN_MAX_CHARS:
        return mark_safe(f"<pre>{escape(text)}</pre>")  # noqa: S308 - the text is escaped
    return mark_safe(_CLEANER.clean(PARSER.render(text)))  # noqa: S308 - nh3 allow-list output


def raw_output_html(raw_text: str, n_responses: int, *, low: int, high: int, forced: bool) -> SafeString:
    """A sample's whole output as the model wrote it, escaped, with what the parser read highlighted
    (principles, critique, the score line) and notes where parsing gave up and where forced scores
    begin. For a `<pre>`: the text keeps its line breaks."""
    html = []
    for part in anatomy(raw_text, n_responses, low=low, high=high, forced=forced):
        if part.kind in ("gave_up", "forced"):
            html.append(format_html('<span class="raw-note raw-{}" role="note">{}</span>', part.kind, part.note))
        elif part.kind == "text":
            html.append(escape(part.text))
        else:
            html.append(format_html('<mark class="raw-{}" title="{}">{}</mark>', part.kind, part.kind, part.text))
    return mark_safe("".join(html))  # noqa: S308 - every piece above is escaped or built by format_html


@dataclass(frozen=True, slots=True)
class Source:
    """A text and how it is shown: `kind` is "md" (Markdown) or "raw:N:LOW:HIGH:FORCED" (a raw output
    read for N responses scored LOW to HIGH)."""

    kind: str
    text: str

    @property
    def key(self) -> uuid.UUID:
        digest = hashlib.blake2b(digest_size=16)
        digest.update(f"{RENDERER_VERSION}\x1f{self.kind}\x1f".encode())
        digest.update(self.text.encode("utf-8", "surrogatepass"))
        return uuid.UUID(bytes=digest.digest())

    def render(self) -> SafeString:
        if self.kind == "md":
            return markdown_html(self.text)
        _, n, low, high, forced = self.kind.split(":")
        return raw_output_html(self.text, int(n), low=int(low), high=int(high), forced=forced == "1")


def markdown(text: str | None) -> Source:
    return Source("md", text or "")


def raw_output(raw_text: str, n_responses: int, *, low: int, high: int, forced: bool) -> Source:
    return Source(f"raw:{n_responses}:{low}:{high}:{int(forced)}", raw_text)


def html_of(sources: Iterable[Source]) -> dict[Source, SafeString]:
    """The HTML of every source: one statement for those stored, and the others rendered and stored."""
    keys = {source: source.key for source in sources}
    stored = dict(RenderedText.objects.filter(key__in=set(keys.values())).values_list("key", "html"))
    html: dict[Source, SafeString] = {}
    missing: list[RenderedText] = []
    for source, key in keys.items():
        found = stored.get(key)
        if found is None:
            found = source.render()
            missing.append(RenderedText(key=key, version=RENDERER_VERSION, html=found))
            stored[key] = found
        html[source] = mark_safe(found)  # noqa: S308 - written by Source.render: sanitized or escaped
    if missing:
        RenderedText.objects.bulk_create(missing, ignore_conflicts=True, batch_size=BATCH)
    return html


def prerender(sources: Iterable[Source]) -> int:
    """Render and store the sources not stored yet (when their texts are stored); returns how many."""
    rendered = 0
    batch: dict[uuid.UUID, Source] = {}
    for source in sources:
        batch[source.key] = source
        if len(batch) >= BATCH:
            rendered += _store_missing(batch)
            batch = {}
    if batch:
        rendered += _store_missing(batch)
    return rendered


def _store_missing(batch: dict[uuid.UUID, Source]) -> int:
    stored = set(RenderedText.objects.filter(key__in=list(batch)).values_list("key", flat=True))
    missing = [
        RenderedText(key=key, version=RENDERER_VERSION, html=source.render())
        for key, source in batch.items()
        if key not in stored
    ]
    RenderedText.objects.bulk_create(missing, ignore_conflicts=True)
    return len(missing)


def prune() -> int:
    """Delete what older renderers wrote (no page reads their keys any more); returns how many rows."""
    deleted, _ = RenderedText.objects.exclude(version=RENDERER_VERSION).delete()
    return deleted
