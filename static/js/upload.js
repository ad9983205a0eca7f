// Upload with drag-and-drop and a real progress bar. Without this file the form posts normally.
"use strict";
(function () {
  function formatMB(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }

  function setup(panel) {
    const form = panel.querySelector("form");
    const input = form.querySelector("input[type=file]");
    const zone = form.querySelector(".drop-zone");
    const progress = form.querySelector(".upload-progress");
    const bar = progress.querySelector("progress");
    const numbers = progress.querySelector(".upload-numbers");
    const fileName = progress.querySelector(".upload-file-name");
    const phase = progress.querySelector(".upload-phase");
    const submit = form.querySelector(".upload-submit");
    const maxBytes = Number(panel.dataset.maxBytes || 0);
    let busy = false;
    panel.classList.add("js-upload");  // the drop zone itself is the button now

    function showError(message) {
      let box = form.querySelector(".inline-error");
      if (!box) {
        box = document.createElement("div");
        box.className = "inline-error";
        box.setAttribute("role", "alert");
        form.appendChild(box);
      }
      box.textContent = message;
      progress.hidden = true;
      zone.hidden = false;
      submit.hidden = false;
      busy = false;
    }

    function replacePanel(html) {
      const doc = new DOMParser().parseFromString(html, "text/html");
      const fresh = doc.getElementById("upload-panel");
      if (!fresh) { showError("The upload failed. Reload the page and try again."); return; }
      panel.replaceWith(fresh);
      setup(fresh);
    }

    function upload(file) {
      if (busy || !file) return;
      if (!/\.zip$/i.test(file.name)) { showError(file.name + " is not a .zip file. Export the course as a SCORM package (.zip)."); return; }
      if (maxBytes && file.size > maxBytes) {
        showError(file.name + " is " + formatMB(file.size) + "; the limit is " + formatMB(maxBytes) + ". Remove unused media (large videos are the usual cause) and export it again.");
        return;
      }
      busy = true;
      const old = form.querySelector(".inline-error");
      if (old) old.remove();
      zone.hidden = true;
      submit.hidden = true;
      progress.hidden = false;
      fileName.textContent = file.name;
      phase.textContent = "Uploading…";
      const data = new FormData();
      data.append("_csrf_token", form.querySelector("input[name=_csrf_token]").value);
      data.append("package", file, file.name);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("x-csrftoken", form.querySelector("input[name=_csrf_token]").value);
      xhr.upload.onprogress = function (event) {
        if (!event.lengthComputable) return;
        const percent = Math.round((event.loaded / event.total) * 100);
        bar.value = percent;
        numbers.textContent = formatMB(event.loaded) + " of " + formatMB(event.total) + " · " + percent + "%";
      };
      xhr.upload.onload = function () { bar.value = 100; phase.textContent = "Checking the package…"; };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300 && xhr.responseURL && !xhr.responseURL.endsWith("/app/courses")) {
          phase.textContent = "Done. Opening the course…";
          window.location.assign(xhr.responseURL);
        } else {
          replacePanel(xhr.responseText);
        }
      };
      xhr.onerror = function () { showError("The upload did not reach SCORM Hub. Check your connection and try again."); };
      xhr.send(data);
    }

    form.addEventListener("submit", function (event) { event.preventDefault(); upload(input.files[0]); });
    input.addEventListener("change", function () { upload(input.files[0]); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("dragging"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("dragging"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) upload(event.dataTransfer.files[0]);
    });
  }

  document.querySelectorAll("#upload-panel").forEach(setup);
})();
