"""The `markdown` and `plain_preview` filters: Markdown renders, and nothing in untrusted text becomes active HTML."""

from __future__ import annotations

from html import unescape
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.template import Context, Template
from django.utils.safestring import SafeString, mark_safe
from hypothesis import given, settings
from hypothesis import strategies as st

from reviews.templatetags import grm_text
from reviews.templatetags.grm_text import (
    MARKDOWN_MAX_CHARS,
    markdown_filter,
    plain_preview_filter,
    plain_preview_text,
)

# The policy, restated here so that a change to the allow-list in the module is a visible test change.
ALLOWED_TAGS = {
    "p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "del", "code", "pre",
    "blockquote", "ul", "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "a", "span", "div",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title", "rel"}, "ol": {"start"}, "span": {"class"}, "div": {"class"}}
# span and div only ever carry math (for KaTeX in the browser), with these classes.
MATH_CLASSES = {"span": {"math inline", "math display"}, "div": {"math block"}}
REL = "nofollow noopener noreferrer"


class ParsedHtml(HTMLParser):
    """Every element, attribute and comment of a fragment, as a browser's tokenizer would see them."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.markup_declarations: list[str] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text += data

    def handle_comment(self, data):
        self.markup_declarations.append(f"<!--{data}-->")

    def handle_decl(self, decl):
        self.markup_declarations.append(decl)

    def handle_pi(self, data):
        self.markup_declarations.append(data)

    def tags(self) -> list[str]:
        return [tag for tag, _ in self.elements]

    def hrefs(self) -> list[str | None]:
        return [attrs.get("href") for tag, attrs in self.elements if tag == "a"]


def render(text: str) -> str:
    html = markdown_filter(text)
    assert isinstance(html, SafeString)
    return str(html)


def assert_inert(html: str) -> ParsedHtml:
    """Only allow-listed elements and attributes, no event handler, and only absolute http(s)/mailto hrefs."""
    assert "<script" not in html.lower()
    parsed = ParsedHtml(html)
    assert parsed.markup_declarations == []
    for tag, attrs in parsed.elements:
        assert tag in ALLOWED_TAGS, (tag, html)
        for name, value in attrs.items():
            assert not name.startswith("on"), (tag, name, html)
            assert name in ALLOWED_ATTRIBUTES.get(tag, set()), (tag, name, html)
            if name == "href":
                assert value is not None
                assert "javascript:" not in value.lower().replace("\t", "").replace("\n", "")
                assert urlsplit(value).scheme in {"http", "https", "mailto"}, (value, html)
        if tag == "a":
            assert attrs.get("rel") == REL, html
        if tag in MATH_CLASSES:
            assert attrs.get("class") in MATH_CLASSES[tag], (tag, attrs, html)
    return parsed


# Markdown renders


def test_headings_and_emphasis_render():
    html = render("# Title\n\n### Sub\n\nSome **bold**, *emphasis*, `code` and ~~struck~~ text.")
    assert "<h1>Title</h1>" in html
    assert "<h3>Sub</h3>" in html
    assert "<strong>bold</strong>" in html
    assert "<em>emphasis</em>" in html
    assert "<code>code</code>" in html
    assert "<del>struck</del>" in html
    assert_inert(html)


def test_lists_render_and_an_ordered_list_keeps_its_start():
    html = render("- one\n- two\n\n3. three\n4. four\n\n> quoted\n\n---")
    assert "<ul>\n<li>one</li>\n<li>two</li>\n</ul>" in html
    assert '<ol start="3">\n<li>three</li>' in html
    assert "<blockquote>" in html
    assert "<hr>" in html
    assert_inert(html)


def test_code_blocks_render_and_their_content_stays_text():
    html = render('```python\nif a < b:\n    print("<b>hi</b>")\n```\n\n    indented <i>code</i>\n')
    assert '<pre><code>if a &lt; b:\n    print("&lt;b&gt;hi&lt;/b&gt;")\n</code></pre>' in html
    assert "<pre><code>indented &lt;i&gt;code&lt;/i&gt;\n</code></pre>" in html
    assert "language-python" not in html  # class attributes are not allowed
    assert ParsedHtml(html).tags() == ["pre", "code", "pre", "code"]


def test_tables_render_without_inline_styles():
    html = render("| name | score |\n|:-----|------:|\n| a | 1 |\n| b | 2 |")
    parsed = assert_inert(html)
    assert parsed.tags() == ["table", "thead", "tr", "th", "th", "tbody", "tr", "td", "td", "tr", "td", "td"]
    assert "style" not in html
    assert "<td>2</td>" in html


def test_a_link_gets_rel_nofollow_noopener_noreferrer():
    html = render('See [the paper](https://arxiv.org/abs/2504.02495 "GRM") or <mailto:a@example.com>.')
    assert '<a href="https://arxiv.org/abs/2504.02495" title="GRM" rel="nofollow noopener noreferrer">' in html
    assert '<a href="mailto:a@example.com" rel="nofollow noopener noreferrer">' in html
    assert_inert(html)


def test_bare_urls_are_not_linkified():
    html = render("visit https://example.com now")
    assert html == "<p>visit https://example.com now</p>\n"


def test_relative_links_lose_their_href():
    parsed = assert_inert(render("[admin](/admin/) [up](../x) [host](//evil.example/x)"))
    assert parsed.hrefs() == [None, None, None]
    assert parsed.text.strip() == "admin up host"


# Untrusted input stays inert


def test_a_script_tag_comes_out_as_text():
    html = render("before <script>alert(1)</script> after\n\n<script>\nalert(2)\n</script>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;script&gt;\nalert(2)\n&lt;/script&gt;" in html
    assert ParsedHtml(html).tags() == ["p", "p"]
    assert_inert(html)


def test_a_raw_img_with_an_event_handler_is_inert():
    html = render("<img src=x onerror=alert(1)>")
    assert html == "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n"
    parsed = assert_inert(html)
    assert parsed.tags() == ["p"]


def test_an_iframe_is_escaped():
    html = render('<iframe src="https://evil.example/"></iframe>')
    assert "&lt;iframe" in html
    assert "iframe" not in assert_inert(html).tags()


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JavaScript:alert(1))",
        "[x](javascript&#58;alert(1))",
        "[x](java%73cript:alert(1))",
        "[x]( javascript:alert(1) )",
        "[x][ref]\n\n[ref]: javascript:alert(1)",
        "<javascript:alert(1)>",
        "[x](vbscript:msgbox(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](data:image/png;base64,AAAA)",
    ],
)
def test_no_link_gets_a_dangerous_href(source):
    parsed = assert_inert(render(source))
    assert all(href is None or urlsplit(href).scheme in {"http", "https"} for href in parsed.hrefs())


def test_a_markdown_image_becomes_a_link_labelled_with_its_alt_text():
    html = render('![a *chart*](http://evil.example/x.png "Title")')
    assert html == (
        '<p><a href="http://evil.example/x.png" title="Title" rel="nofollow noopener noreferrer">a chart</a></p>\n'
    )
    assert "img" not in assert_inert(html).tags()


def test_an_image_without_alt_text_is_labelled_with_its_url_and_an_unsafe_one_has_no_href():
    parsed = assert_inert(render("![](https://evil.example/x.png) ![](data:image/png;base64,AAAA)"))
    assert parsed.hrefs() == ["https://evil.example/x.png", None]
    assert parsed.text.strip() == "https://evil.example/x.png data:image/png;base64,AAAA"


def test_an_image_inside_a_link_is_its_alt_text():
    html = render("[![badge](https://evil.example/b.svg)](https://example.com)")
    assert html == '<p><a href="https://example.com" rel="nofollow noopener noreferrer">badge</a></p>\n'


def test_html_entities_and_angle_brackets_in_text_stay_text():
    html = render("1 < 2 && 3 > 2, &lt;b&gt; &#60;script&#62;")
    parsed = assert_inert(html)
    assert parsed.tags() == ["p"]
    assert parsed.text.strip() == "1 < 2 && 3 > 2, <b> <script>"


# Autoescape and the template engine


def test_a_safe_string_input_is_still_untrusted():
    html = render(mark_safe("<script>alert(1)</script> <b>bold</b>"))
    assert html == "<p>&lt;script&gt;alert(1)&lt;/script&gt; &lt;b&gt;bold&lt;/b&gt;</p>\n"


def test_none_renders_as_nothing():
    assert markdown_filter(None) == ""
    assert plain_preview_filter(None) == ""


def test_the_filter_through_the_template_engine_is_not_escaped_twice():
    template = Template("{% load grm_text %}<div>{{ t|markdown }}</div>")
    html = template.render(Context({"t": "**hi** <script>x()</script> & [l](https://e.com)"}))
    assert html == (
        "<div><p><strong>hi</strong> &lt;script&gt;x()&lt;/script&gt; &amp; "
        '<a href="https://e.com" rel="nofollow noopener noreferrer">l</a></p>\n</div>'
    )


def test_without_the_filter_the_template_escapes_the_source():
    html = Template("{{ t }}").render(Context({"t": "**hi** <script>"}))
    assert html == "**hi** &lt;script&gt;"


def test_the_filter_sanitizes_with_autoescape_off_too():
    template = Template("{% load grm_text %}{% autoescape off %}{{ t|markdown }}{% endautoescape %}")
    html = template.render(Context({"t": "<script>alert(1)</script> [x](javascript:alert(1))"}))
    assert html == "<p>&lt;script&gt;alert(1)&lt;/script&gt; [x](javascript:alert(1))</p>\n"


def test_plain_preview_through_the_template_engine():
    template = Template("{% load grm_text %}<td>{{ t|plain_preview:12 }}</td><td>{{ t|plain_preview }}</td>")
    html = template.render(Context({"t": "  <b>Response</b>\n\n  one  "}))
    assert html == "<td>&lt;b&gt;Response&lt;…</td><td>&lt;b&gt;Response&lt;/b&gt; one</td>"


# The size guard


def test_a_text_over_the_limit_is_escaped_in_a_pre_without_parsing(monkeypatch):
    def no_parsing(text):
        raise AssertionError("parsed a text over the size limit")

    monkeypatch.setattr(grm_text._PARSER, "render", no_parsing)
    text = "# Heading <script>alert(1)</script>\n" + "x" * 300_000
    html = render(text)
    assert html.startswith("<pre># Heading &lt;script&gt;alert(1)&lt;/script&gt;\nxxx")
    assert html.endswith("xxx</pre>")
    assert assert_inert(html).tags() == ["pre"]


def test_a_text_at_the_limit_is_still_markdown():
    text = "# Heading\n\n" + "word " * ((MARKDOWN_MAX_CHARS - 11) // 5)
    assert len(text) <= MARKDOWN_MAX_CHARS
    assert render(text).startswith("<h1>Heading</h1>\n<p>word word")


# plain_preview


@pytest.mark.parametrize(
    ("text", "limit", "preview"),
    [
        ("  hello \n\n\t world  ", 200, "hello world"),
        ("hello world", 11, "hello world"),
        ("hello world", 8, "hello wo…"),
        ("hello world", 6, "hello…"),  # a cut at a space drops it
        ("a" * 1000, 5, "aaaaa…"),
        ("", 10, ""),
        ("text", 0, ""),
        ("<b>x</b> & y", 200, "&lt;b&gt;x&lt;/b&gt; &amp; y"),
    ],
)
def test_plain_preview(text, limit, preview):
    assert plain_preview_filter(text, limit) == preview


def test_plain_preview_escapes_a_safe_string_too_and_defaults_to_200_characters():
    assert plain_preview_filter(mark_safe("<i>x</i>"), "50") == "&lt;i&gt;x&lt;/i&gt;"
    preview = plain_preview_filter("word " * 1000)
    assert len(preview) == 200
    assert preview.endswith("…")


# Properties over arbitrary text

FRAGMENTS = [
    "<script>", "</script>", "<img src=x onerror=alert(1)>", "<iframe src=//e>", "<a href=", "<svg onload=x>",
    "javascript:", "JaVaScRiPt:", "java\tscript:", "&#106;avascript:", "data:text/html,", "vbscript:",
    "[", "]", "(", ")", "![", "<", ">", "\"", "'", "`", "```", "~~", "*", "_", "|", "|---|", "#", "> ",
    "- ", "1. ", "\n", "\n\n", "    ", "&", "&lt;", "&#x3c;", "<!--", "-->", " onerror=", " onclick=\"",
    "http://e.com", "mailto:a@b", "\x00", "\u2028",
]  # fmt: skip
untrusted_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=20)), max_size=40).map("".join)


@settings(max_examples=400, deadline=None)
@given(untrusted_text)
def test_any_text_renders_inert(text):
    assert_inert(render(text))


@settings(max_examples=200, deadline=None)
@given(untrusted_text, st.integers(min_value=0, max_value=300))
def test_any_preview_is_one_escaped_line_within_the_limit(text, limit):
    preview = plain_preview_filter(text, limit)
    assert "<" not in preview
    assert ">" not in preview
    assert unescape(preview) == plain_preview_text(text, limit)
    plain = plain_preview_text(text, limit)
    assert len(plain) <= limit + 1  # the "…" that marks a cut
    assert plain == plain.strip()
    assert "  " not in plain
    assert "\n" not in plain


def test_math_is_taken_out_of_markdown_as_escaped_text_for_katex():
    html = render(
        "Inline $a_1 + \\{x\\}$, \\(x^2\\), prices $5 and $10.\n\n$$\\frac{a}{b} \\\\ c$$\n\n"
        '$<img src=x onerror=alert(1)>$ and <span class="math inline" onclick=x>raw</span>'
    )
    assert_inert(html)
    assert '<span class="math inline">a_1 + \\{x\\}</span>' in html  # Markdown left the braces alone
    assert '<span class="math inline">x^2</span>' in html
    assert "prices $5 and $10." in html
    assert '<div class="math block">\\frac{a}{b} \\\\ c</div>' in html
    assert '<span class="math inline">&lt;img src=x onerror=alert(1)&gt;</span>' in html
    assert '&lt;span class="math inline" onclick=x&gt;raw&lt;/span&gt;' in html  # raw HTML stays text
