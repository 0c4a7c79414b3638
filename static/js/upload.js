// The upload page: choose or drop a file, see its first items as they will be read (the server reads
// the file's first bytes, sent here, with the importer's own code), send it with a progress bar.
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = form.querySelector("input[type=file]");
  const zone = document.getElementById("dropzone");
  const head = document.getElementById("upload-head");
  const complete = document.getElementById("upload-head-complete");
  const chosen = document.getElementById("file-chosen");
  const preview = document.getElementById("upload-preview");
  const headBytes = parseInt(head.dataset.bytes, 10);

  function size(bytes) {
    const units = ["bytes", "KB", "MB", "GB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i += 1; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }

  async function readHead() {
    const file = input.files && input.files[0];
    if (!file) {
      chosen.textContent = "";
      head.value = "";
    } else {
      chosen.textContent = file.name + " · " + size(file.size);
      head.value = await file.slice(0, headBytes).text();
      complete.value = file.size <= headBytes ? "on" : "";
    }
    htmx.trigger(preview, "grm:preview");
  }

  input.addEventListener("change", readHead);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    if (event.dataTransfer && event.dataTransfer.files.length) {
      input.files = event.dataTransfer.files;
      readHead();
    }
  });

  // A new dataset's name or an existing dataset: show the one the radio chose.
  function showTarget() {
    const checked = form.querySelector("input[name=target]:checked");
    const target = checked ? checked.value : "new";
    form.querySelectorAll(".row-name").forEach(function (el) { el.hidden = target !== "new"; });
    form.querySelectorAll(".row-dataset").forEach(function (el) { el.hidden = target !== "existing"; });
  }
  form.querySelectorAll("input[name=target]").forEach(function (radio) { radio.addEventListener("change", showTarget); });
  showTarget();

  const bar = document.getElementById("send-progress");
  const percent = document.getElementById("send-percent");
  form.addEventListener("htmx:xhr:progress", function (event) {
    if (!event.detail.lengthComputable) return;
    const done = Math.round((event.detail.loaded / event.detail.total) * 100);
    bar.hidden = false;
    bar.value = done;
    percent.textContent = done < 100 ? "sending " + done + "%" : "sent; checking…";
  });
  form.addEventListener("htmx:afterRequest", function () {
    bar.hidden = true;
    percent.textContent = "";
  });
})();
