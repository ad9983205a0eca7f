// Sign-in inside HighLevel's iframe: ask the parent page for the user's encrypted details, trade them
// for a session of ours, then open the app. Runs once per page load, so it can never loop; on any
// failure it says what to do instead of redirecting.
"use strict";
(() => {
  const root = document.querySelector("[data-sso-url]");
  if (!root) return;
  const status = root.querySelector("[data-sso-status]");
  const next = root.dataset.next || "/app/courses";
  const say = (text, installUrl) => {
    status.textContent = text;
    if (installUrl) {
      const link = document.createElement("a");
      link.href = installUrl;
      link.target = "_top"; // HighLevel's consent page cannot be framed
      link.className = "button primary";
      link.textContent = "Install SCORM Hub";
      const p = document.createElement("p");
      p.append(link);
      status.after(p);
    }
  };
  if (window.parent === window) return; // not embedded: the page's own text explains how to sign in

  // A guard against sign-in loops: if this frame already signed in several times in the last minute,
  // something keeps dropping the session; stop and say so. window.name survives the frame's
  // navigations even where the browser blocks storage.
  const recent = (() => {
    try { return JSON.parse(window.name || "{}").ssoAttempts || []; } catch (error) { return []; }
  })().filter((at) => Date.now() - at < 60000);
  if (recent.length >= 3) {
    say("Your browser keeps dropping the sign-in. Allow cookies for this site, or open SCORM Hub in a new tab from HighLevel.");
    return;
  }
  window.name = JSON.stringify({ ssoAttempts: [...recent, Date.now()] });

  // Only the CRM page that frames us may sign us in: any frame can post to this window (a widget or
  // another app next to us in the CRM), and a valid payload for the sender's own location would sign
  // this browser in there. So the message must come from our parent window, from one of the origins
  // the server allows to frame us (SCORMHUB_FRAME_ANCESTORS, as CSP sources). Anything else is ignored,
  // and the real answer can still arrive after it.
  const sources = (root.dataset.crmOrigins || "").split(/\s+/).filter(Boolean);
  const defaultPort = (protocol) => ({ "http:": "80", "https:": "443" })[protocol] || "";
  const matches = (source, origin) => {
    if (source === "'self'") return origin.origin === window.location.origin;
    if (source === "*") return origin.protocol === "https:" || origin.protocol === "http:";
    if (/^[a-z][a-z0-9+.-]*:$/.test(source)) return origin.protocol === source;
    const parts = /^(?:([a-z][a-z0-9+.-]*):\/\/)?(\*\.)?([^:/]+)(?::(\d+|\*))?$/.exec(source);
    if (!parts) return false;
    const [, scheme, wildcard, host, port] = parts;
    // CSP: a source without a scheme means the page's own scheme, and http also allows https.
    const schemes = scheme ? [scheme + ":"]
      : window.location.protocol === "http:" ? ["http:", "https:"] : ["https:"];
    if (!schemes.includes(origin.protocol)) return false;
    const hostMatches = wildcard ? origin.hostname.endsWith("." + host) : origin.hostname === host;
    const wanted = port || defaultPort(scheme ? scheme + ":" : origin.protocol);
    return hostMatches && (port === "*" || (origin.port || defaultPort(origin.protocol)) === wanted);
  };
  const fromCrm = (event) => {
    if (event.source !== window.parent) return false;
    let origin;
    try { origin = new URL(event.origin); } catch (error) { return false; } // "null": a sandboxed frame
    return sources.some((source) => matches(source, origin));
  };

  let answered = false;
  window.addEventListener("message", async (event) => {
    const data = event.data || {};
    if (answered || data.message !== "REQUEST_USER_DATA_RESPONSE" || typeof data.payload !== "string") return;
    if (!fromCrm(event)) return;
    answered = true;
    say("Signing you in…");
    let response, body;
    try {
      response = await fetch(root.dataset.ssoUrl, {
        method: "POST",
        credentials: "include",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify({ payload: data.payload }),
      });
      body = await response.json();
    } catch (error) {
      say("SCORM Hub could not be reached. Check your connection and reload the page.");
      return;
    }
    if (!response.ok || !body.token) {
      say(body.error || "You could not be signed in. Reload the page.", body.install);
      return;
    }
    window.scormhubSession.set(body.token);
    // If the browser kept the session cookie, a normal page load works; if it blocked it (third-party
    // cookies off), the app is loaded through htmx with the session in a header instead.
    const probe = await fetch(next, { credentials: "include", redirect: "manual" });
    if (probe.ok) {
      window.location.replace(next);
    } else {
      window.scormhubSession.open(next);
    }
  });
  window.parent.postMessage({ message: "REQUEST_USER_DATA" }, "*");
  setTimeout(() => {
    if (!answered) say("HighLevel did not send your sign-in details. Reload the page, or open SCORM Hub from the HighLevel menu.");
  }, 10000);
})();
