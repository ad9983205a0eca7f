// The built-in player page: set up the SCORM API before the content frame loads, restore the saved
// state, commit to the server, and point the frame at the SCO. Configuration comes from a JSON block
// (no inline script, so the page CSP stays strict).
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("player-config").textContent);
  const tracking = Boolean(config.tracking);
  const settings = {
    lmsCommitUrl: tracking ? config.commitUrl : false,
    autocommit: tracking,
    autocommitSeconds: 15,
    dataCommitFormat: "json",
    // The server adds ?final=true's session time once, at the terminating commit.
    terminateCommitParam: "final",
    logLevel: 4,
  };
  // Server-chosen scorm-again settings (SCORM 1.2: the LMS's status rules at LMSFinish).
  Object.assign(settings, config.apiSettings || {});
  const api = config.standard === "scorm12" ? new window.Scorm12API(settings) : new window.Scorm2004API(settings);
  if (tracking && config.resume) {
    // Before Initialize: read-only values (entry, total time) are locked afterwards.
    api.loadFromJSON(config.resume, "");
  }
  if (config.standard === "scorm12") {
    window.API = api;
  } else {
    window.API_1484_11 = api;
  }

  let finished = false;
  // Leaving the page (a link in the contents, a closed tab) unloads the SCO, which then finishes: that is
  // not the learner asking to exit, and the exit page must not replace the page they are going to.
  let leaving = false;
  window.addEventListener("beforeunload", function () { leaving = true; });
  const finishEvent = config.standard === "scorm12" ? "LMSFinish" : "Terminate";
  api.on(finishEvent, function () {
    finished = true;
    if (config.exitUrl && !leaving) {
      // Give the terminating commit a moment, then show the learner that progress is saved.
      setTimeout(function () { window.location.assign(config.exitUrl); }, 300);
    }
  });

  // A closed tab must not lose progress: send what the SCO has set so far, without terminating the
  // attempt (the learner resumes next time). sendBeacon survives the page going away.
  window.addEventListener("pagehide", function () {
    if (!tracking || finished) return;
    try {
      const body = JSON.stringify({ cmi: api.cmi });
      navigator.sendBeacon(config.commitUrl, new Blob([body], { type: "application/json" }));
    } catch (error) {
      // Nothing more can be done while the page unloads.
    }
  });

  document.getElementById("sco-frame").src = config.launch;
})();
