// The built-in player page: set up the SCORM API before the content frame loads, then point the frame
// at the SCO. Configuration comes from a JSON block (no inline script, so the page CSP stays strict).
"use strict";
(function () {
  const config = JSON.parse(document.getElementById("player-config").textContent);
  const settings = {
    lmsCommitUrl: config.tracking ? config.commitUrl : false,
    autocommit: Boolean(config.tracking),
    autocommitSeconds: 30,
    logLevel: 4,
  };
  if (config.standard === "scorm12") {
    window.API = new window.Scorm12API(settings);
  } else {
    window.API_1484_11 = new window.Scorm2004API(settings);
  }
  document.getElementById("sco-frame").src = config.launch;
})();
