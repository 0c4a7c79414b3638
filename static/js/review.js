// Keyboard review: a accept, r reject, 1-9 toggle failure modes, n skip, u undo, e note, ? help.
// Each answer swaps in the next item (htmx); the handler looks the form up again on every key.
(function () {
  "use strict";
  let shownAt = Date.now();

  document.body.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "review-item") {
      shownAt = Date.now();
    }
  });
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt && event.detail.elt.id === "annotate-form") {
      event.detail.parameters.time_spent_ms = String(Date.now() - shownAt);
    }
  });
  document.body.addEventListener("click", function (event) {
    if (event.target.closest("[data-help]")) {
      document.getElementById("review-help").showModal();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat) return;
    const typing = event.target.closest("textarea, input[type=text], input[type=number], select");
    if (typing) {
      if (event.key === "Escape") event.target.blur();
      return;
    }
    const form = document.getElementById("annotate-form");
    const help = document.getElementById("review-help");
    if (event.key === "u" && !(help && help.open)) {  // undo: also on the "nothing left" page, which has no form
      const undo = document.querySelector("#review-item button.undo");
      if (undo && !undo.disabled) undo.click();
      event.preventDefault();
      return;
    }
    if (event.key === "?") {
      if (help) help.open ? help.close() : help.showModal();
      event.preventDefault();
      return;
    }
    if (!form || (help && help.open)) return;
    // Until htmx has taken over a freshly swapped form, a key would submit it as a plain page POST.
    const item = document.getElementById("review-item");
    if (item && (item.classList.contains("htmx-added") || item.classList.contains("htmx-settling"))) {
      event.preventDefault();
      return;
    }
    const click = function (selector) {
      const button = form.querySelector(selector);
      if (button && !button.disabled) button.click();
      event.preventDefault();
    };
    if (event.key === "a") click("button[value=accept]");
    else if (event.key === "r") click("button[value=reject]");
    else if (event.key === "n") click("button.skip");
    else if (event.key === "e") {
      form.querySelector("textarea[name=note]").focus();
      event.preventDefault();
    } else if (/^[1-9]$/.test(event.key)) {
      const box = form.querySelector('input[data-key="' + event.key + '"]');
      if (box) {
        box.checked = !box.checked;
        event.preventDefault();
      }
    }
  });
})();
