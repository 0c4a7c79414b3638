"""Template filters for untrusted text: model outputs (principles, critiques) and uploads (prompts, responses).

`{{ text|markdown }}` parses CommonMark with raw HTML disabled, then passes the HTML through an nh3
allow-list, so neither the source nor the parser can put a script, an event handler, a javascript: URL
or a loading resource on the page. `{{ text|plain_preview:200 }}` is a one-line escaped excerpt.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import nh3
from django import template
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from mdit_py_plugins.dollarmath import dollarmath_plugin
from mdit_py_plugins.texmath import texmath_plugin

from workers.grm.parsing import anatomy

register = template.Library()

# Longer texts are shown verbatim: parsing costs ~1.5 ms per 1,000 characters, ~15 ms for runs of "![" or "[".
MARKDOWN_MAX_CHARS = 100_000
PREVIEW_DEFAULT_CHARS = 200

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


_PARSER = _build_parser()
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
# \S runs capped at a length, so one enormous "word" is not scanned past what a preview can show.
_WORD_CHUNK = r"\S{1,%d}"


def render_markdown(text: str) -> SafeString:
    """Sanitized HTML for untrusted Markdown; over MARKDOWN_MAX_CHARS, the escaped text in a <pre>."""
    if len(text) > MARKDOWN_MAX_CHARS:
        return mark_safe(f"<pre>{escape(text)}</pre>")  # noqa: S308 - the text is escaped
    return _render_cached(text)  # a SafeString input is parsed and sanitized like any other


@functools.lru_cache(maxsize=4096)
def _render_cached(text: str) -> SafeString:
    """Rendering costs milliseconds per text and reviewers revisit the same texts: keep the last 4,096."""
    return mark_safe(_CLEANER.clean(_PARSER.render(text)))  # noqa: S308 - nh3 allow-list output


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
    """A sample's whole output as the model wrote it, escaped, with what the parser read highlighted
    (principles, critique, the score line: workers.grm.parsing.anatomy) and notes where parsing gave up
    and where forced scores begin. For a `<pre>`: the text keeps its line breaks."""
    parts = anatomy(
        str(getattr(sample, "raw_text", "")),
        int(n_responses),
        low=int(score_low),
        high=int(score_high),
        forced=bool(getattr(sample, "forced", False)),
    )
    html = []
    for part in parts:
        if part.kind in ("gave_up", "forced"):
            html.append(format_html('<span class="raw-note raw-{}" role="note">{}</span>', part.kind, part.note))
        elif part.kind == "text":
            html.append(escape(part.text))
        else:
            html.append(format_html('<mark class="raw-{}" title="{}">{}</mark>', part.kind, part.kind, part.text))
    return mark_safe("".join(html))  # noqa: S308 - every piece above is escaped or built by format_html
