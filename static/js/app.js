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
