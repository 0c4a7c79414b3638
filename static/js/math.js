// Math in untrusted text (prompts, responses, principles, critiques), typeset by KaTeX in the browser.
// The server has already sanitized the Markdown and marked each formula as an element holding its
// LaTeX as plain text (span.math.inline, span.math.display, div.math.block); KaTeX builds its own
// markup from that text, with `trust` off (no \href, \url, \includegraphics or HTML extensions) and
// errors shown as text. Runs on load and after every htmx swap.
(function () {
  "use strict";
  function typeset(root) {
    if (!window.katex || !root || !root.querySelectorAll) return;
    root.querySelectorAll(".md .math:not([data-typeset])").forEach(function (element) {
      const source = element.textContent;
      element.setAttribute("data-typeset", "");
      element.setAttribute("title", source);
      window.katex.render(source, element, {
        displayMode: !element.classList.contains("inline"),
        throwOnError: false,
        trust: false,
        strict: "ignore",
        maxSize: 20,
        maxExpand: 200,
      });
    });
  }
  typeset(document);
  // After every swap, the whole page: an outerHTML swap replaces its target, so the new content is
  // not under event.detail.target (typeset formulas are skipped).
  document.body.addEventListener("htmx:afterSettle", function () {
    typeset(document);
  });
})();
