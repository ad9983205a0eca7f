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

// The session as a header, for pages inside an iframe whose cookies the browser blocks. The token
// lives in this page's memory (and in sessionStorage where the browser allows a framed page that),
// never in a URL; htmx sends it with every request, and pages are boosted so links and forms go
// through htmx too. A full reload loses it, and the sign-in page asks the CRM for a fresh one.
window.scormhubSession = {
  key: "scormhub.session",
  token: null,
  get() {
    if (this.token) return this.token;
    try { return sessionStorage.getItem(this.key); } catch (error) { return null; }
  },
  set(token) {
    this.token = token;
    try { sessionStorage.setItem(this.key, token); } catch (error) { /* blocked: memory only */ }
  },
  open(path) {
    document.body.setAttribute("hx-boost", "true");
    htmx.process(document.body);
    // It replaces the whole body, as a boosted link does: say so, so that a URL which is both a page and
    // a fragment (the course list, a course's learners) answers with the page.
    htmx.ajax("GET", path, { target: "body", swap: "innerHTML", headers: { "HX-Boosted": "true" } }).then(() => {
      history.replaceState({}, "", path);
    });
  },
};
document.addEventListener("htmx:configRequest", (event) => {
  const token = window.scormhubSession.get();
  if (token && !event.detail.headers["x-scormhub-session"]) {
    event.detail.headers["x-scormhub-session"] = token;
  }
});
document.addEventListener("htmx:afterSwap", () => {
  // A swapped-in body loses the boost attribute; keep header-mode navigation inside htmx.
  if (window.scormhubSession.get() && !document.body.hasAttribute("hx-boost")) {
    document.body.setAttribute("hx-boost", "true");
    htmx.process(document.body);
  }
});

// Row menus (<details class="row-menu">): one open at a time; Escape or a click elsewhere closes it, and
// Escape gives the focus back to its button so a keyboard user stays where they were.
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.row-menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.open = false;
  });
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  const menu = event.target.closest && event.target.closest("details.row-menu[open]");
  if (!menu) return;
  menu.open = false;
  menu.querySelector("summary").focus();
});
