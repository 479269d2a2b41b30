// Trident's own script (no library): relative times on the dashboard's
// pages ("3 min ago") tick, worded as the server writes them
// (dashboard/pages.go, ago). Absolute dates stay as written.
(function () {
  "use strict";
  function ago(t) {
    var s = (Date.now() - t.getTime()) / 1000;
    if (s < 60) return "just now";
    if (s < 3600) return Math.floor(s / 60) + " min ago";
    if (s < 48 * 3600) return Math.floor(s / 3600) + " h ago";
    return null;
  }
  function tick() {
    document.querySelectorAll("time[datetime]").forEach(function (el) {
      if (!/^(just now|\d+ (min|h) ago)$/.test(el.textContent)) return; // an absolute date, or "never"
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d.getTime())) return;
      var s = ago(d);
      if (s && s !== el.textContent) el.textContent = s;
    });
  }
  setInterval(tick, 20000);
  // Rows swapped in by htmx and the live stream are written by the server
  // already; others on the page may have aged meanwhile.
  document.addEventListener("htmx:afterSettle", tick);
})();
