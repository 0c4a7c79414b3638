// Small behaviours of plain forms, kept out of the markup (the Content-Security-Policy allows no inline
// handler): a control marked data-submit-on-change submits its form when changed.
document.addEventListener("change", function (event) {
  const control = event.target.closest && event.target.closest("[data-submit-on-change]");
  if (control && control.form) control.form.requestSubmit();
});
