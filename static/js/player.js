// The built-in player page: set up the SCORM API before the content frame loads, restore the saved
// state, commit to the server, and point the frame at the SCO. Configuration comes from a JSON block
// (no inline script, so the page CSP stays strict). On a sequenced (SCORM 2004) course, navigation goes
// to the server: the content's adl.nav.request at Terminate, and the contents / buttons of the page.
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("player-config").textContent);
  const tracking = Boolean(config.tracking);
  const sequencing = config.sequencing || null;
  const frame = document.getElementById("sco-frame");
  const hasSco = Boolean(config.launch);
  const choice = (sequencing && sequencing.choice) || {};
  const settings = {
    lmsCommitUrl: tracking && hasSco ? config.commitUrl : false,
    autocommit: tracking && hasSco,
    autocommitSeconds: 15,
    dataCommitFormat: "json",
    // The server adds ?final=true's session time once, at the terminating commit.
    terminateCommitParam: "final",
    logLevel: 4,
  };
  // Server-chosen scorm-again settings (SCORM 1.2: the LMS's status rules at LMSFinish).
  Object.assign(settings, config.apiSettings || {});
  if (sequencing) {
    // adl.nav.request_valid.choice/jump.{target=X}: the server's answer for each activity.
    settings.scoItemIdValidator = function (id) { return choice[id] === true; };
  }
  const api = config.standard === "scorm12" ? new window.Scorm12API(settings) : new window.Scorm2004API(settings);
  if (tracking && config.resume) {
    // Before Initialize: read-only values (entry, total time) are locked afterwards.
    api.loadFromJSON(config.resume, "");
  }
  if (sequencing && api.adl && api.adl.nav && api.adl.nav.request_valid) {
    // Also before Initialize: these become read-only for the SCO.
    try {
      api.adl.nav.request_valid.continue = sequencing.continue ? "true" : "false";
      api.adl.nav.request_valid.previous = sequencing.previous ? "true" : "false";
    } catch (error) {
      // An older scorm-again without the setters answers "unknown", which SCOs must accept.
    }
  }
  if (config.standard === "scorm12") {
    window.API = api;
  } else {
    window.API_1484_11 = api;
  }

  let finished = false;
  let leaving = false; // the tab is closing: the state stays as it is and reopens at this activity
  let pending = null; // the player's own request, waiting for the SCO to terminate
  let sent = false;

  function message(text) {
    const box = document.getElementById("player-message");
    if (box) { box.textContent = text; box.hidden = !text; }
  }

  function snapshot() {
    if (!hasSco || !tracking) return null;
    try {
      return { sco: config.sco, session: config.session, cmi: JSON.parse(JSON.stringify(api.cmi)) };
    } catch (error) {
      return null;
    }
  }

  function contentRequest() {
    try {
      const value = api.adl && api.adl.nav ? api.adl.nav.request : "_none_";
      return value && value !== "_none_" ? value : null;
    } catch (error) {
      return null;
    }
  }

  function navigate(request, target, withCommit) {
    if (sent) return;
    sent = true;
    const body = { request: request };
    if (target) body.target = target;
    if (withCommit) {
      const commit = snapshot();
      if (commit) body.commit = commit;
    }
    fetch(config.navUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
    }).then(function (response) {
      return response.json().then(function (answer) { return { ok: response.ok, answer: answer }; });
    }).then(function (result) {
      if (result.ok && result.answer.url) {
        window.location.assign(result.answer.url);
        return;
      }
      sent = false;
      if (finished && request !== "exit") {
        // The SCO ended asking for something the rules refuse: end its attempt and let the learner choose.
        navigate("exit", null, false);
        return;
      }
      message((result.answer && result.answer.message) || "That can't be done now.");
    }).catch(function () {
      sent = false;
      message("The course could not be reached. Check your connection and try again.");
    });
  }

  const finishEvent = config.standard === "scorm12" ? "LMSFinish" : "Terminate";
  api.on(finishEvent, function () {
    finished = true;
    if (sequencing && leaving && !pending) return;
    if (sequencing) {
      const asked = pending || parseRequest(contentRequest()) || { request: "exit" };
      // Let the terminating commit leave first; the request also carries the SCO's last values.
      setTimeout(function () { navigate(asked.request, asked.target, true); }, 50);
      return;
    }
    // Leaving the page (a contents link, a closed tab) unloads the SCO, which then finishes: not an exit.
    if (config.exitUrl && !leaving) {
      // Give the terminating commit a moment, then show the learner that progress is saved.
      setTimeout(function () { window.location.assign(config.exitUrl); }, 300);
    }
  });

  function parseRequest(value) {
    if (!value) return null;
    const targeted = /^\{target=([^{}]+)\}(choice|jump)$/.exec(value);
    if (targeted) return { request: targeted[2], target: targeted[1] };
    return { request: value, target: null };
  }

  // The page's own controls: plain forms that work without this script; with it, the running SCO is
  // unloaded first so it can save and terminate, then the request goes with its last values.
  document.querySelectorAll("form[data-nav-form]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!sequencing) return;
      event.preventDefault();
      const button = event.submitter;
      const data = new FormData(form);
      const request = (button && button.name === "request" ? button.value : data.get("request")) || "";
      const target = button && button.name === "target" ? button.value : null;
      if (!hasSco || finished) {
        navigate(request, target, false);
        return;
      }
      pending = { request: request, target: target };
      if (frame) frame.src = "about:blank"; // the SCO's unload handler terminates it
      // A SCO that never calls Terminate: go on without it after a moment.
      setTimeout(function () { if (!sent) navigate(request, target, true); }, 2000);
    });
  });

  // After each commit the rules may allow more (the SCO was satisfied, a test was passed): ask the
  // server and update the buttons, the contents and the progress in place.
  const labels = {
    "not attempted": "Not attempted", incomplete: "Incomplete", completed: "Completed",
    passed: "Passed", failed: "Failed",
  };
  function render(view) {
    if (!view) return;
    Object.keys(choice).forEach(function (key) { delete choice[key]; });
    Object.assign(choice, view.choice || {});
    const next = document.getElementById("nav-continue");
    if (next) next.hidden = !view.continue;
    const previous = document.getElementById("nav-previous");
    if (previous) previous.hidden = !view.previous;
    (view.toc || []).forEach(function (entry) {
      const item = document.querySelector('.toc-item[data-activity="' + CSS.escape(entry.id) + '"]');
      if (!item) return;
      const button = item.querySelector("button.toc-link");
      if (button) button.disabled = !entry.enabled || entry.current;
      const status = item.querySelector(".toc-status");
      if (status) {
        status.textContent = labels[entry.status] || entry.status;
        status.className = "toc-status status-" + entry.status.replace(" ", "-");
      }
      item.dataset.status = entry.status;
    });
    const progress = document.querySelector("#player-progress progress");
    if (progress && typeof view.progress === "number") {
      progress.value = Math.round(view.progress * 100);
      progress.nextElementSibling.textContent = Math.round(view.progress * 100) + "%";
    }
  }
  function refresh() {
    if (finished || sent) return;
    fetch(config.navUrl, { credentials: "omit" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (answer) { if (answer) render(answer.sequencing); })
      .catch(function () { /* the next commit tries again */ });
  }
  if (sequencing) {
    // scorm-again announces a finished upload only for asynchronous commits; after the SCO's Commit the
    // store may still be in flight, so ask once soon and once a little later.
    api.on("CommitSuccess", refresh);
    api.on("Commit", function () {
      setTimeout(refresh, 300);
      setTimeout(refresh, 1500);
    });
  }

  const toc = document.getElementById("player-toc");
  if (toc && window.matchMedia && window.matchMedia("(max-width: 640px)").matches) {
    toc.open = false; // on a phone the contents start folded above the lesson
  }

  // A closed tab must not lose progress: send what the SCO has set so far, without terminating the
  // attempt (the learner resumes next time). sendBeacon survives the page going away.
  window.addEventListener("beforeunload", function () { leaving = true; });
  window.addEventListener("pagehide", function () {
    leaving = true;
    if (!tracking || finished || !hasSco) return;
    try {
      const body = JSON.stringify({ cmi: api.cmi });
      navigator.sendBeacon(config.commitUrl, new Blob([body], { type: "application/json" }));
    } catch (error) {
      // Nothing more can be done while the page unloads.
    }
  });

  if (frame && hasSco) frame.src = config.launch;
})();
