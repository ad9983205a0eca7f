// Small progressive enhancements; every page works without this file.
"use strict";
document.addEventListener("htmx:responseError", (event) => {
  // Say something instead of failing silently when a partial cannot be loaded.
  const target = event.detail.target;
  if (target && !target.querySelector(".inline-error")) {
    const note = document.createElement("p");
    note.className = "inline-error";
    note.textContent = "That did not load. Check your connection and try again.";
    target.prepend(note);
  }
});

// Copy buttons: <button data-copy="#input-id">.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  navigator.clipboard.writeText(source.value).then(() => {
    const label = button.textContent;
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = label; }, 1500);
  }, () => { source.select(); });
});
