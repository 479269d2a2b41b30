// Trident's own: picking devices in the list for a bulk action. The
// checkboxes work without it (they belong to the bulk form); this adds
// "select every device on this page", a count, and keeps what is ticked
// when a live update redraws a row (the stream swaps a row's cells).
(function () {
  "use strict";
  var picked = new Set();
  function boxes() { return document.querySelectorAll('input[type="checkbox"][name="device"][form="bulk"]'); }
  function show() {
    var all = boxes(), ticked = 0;
    all.forEach(function (b) {
      b.checked = picked.has(b.value);
      if (b.checked) ticked++;
    });
    var page = document.getElementById("select-page");
    if (page) {
      page.hidden = false;
      page.checked = all.length > 0 && ticked === all.length;
      page.indeterminate = ticked > 0 && ticked < all.length;
    }
    var count = document.getElementById("bulk-count");
    if (count) count.textContent = picked.size ? picked.size + " selected" : "";
  }
  document.addEventListener("change", function (e) {
    var b = e.target;
    if (b.id === "select-page") {
      boxes().forEach(function (x) { if (b.checked) picked.add(x.value); else picked.delete(x.value); });
    } else if (b.name === "device" && b.getAttribute("form") === "bulk") {
      if (b.checked) picked.add(b.value); else picked.delete(b.value);
    } else {
      return;
    }
    show();
  });
  // A search or filter swaps the rows: what was picked and is gone from
  // the list is no longer picked.
  document.addEventListener("htmx:afterSettle", function (e) {
    if (e.target && e.target.id === "device-rows") {
      var shown = new Set(Array.prototype.map.call(boxes(), function (b) { return b.value; }));
      picked.forEach(function (id) { if (!shown.has(id)) picked.delete(id); });
    }
    show();
  });
  document.addEventListener("htmx:sseMessage", show);
  document.addEventListener("DOMContentLoaded", show);
})();

// Filtering a table's rows as one types (the device page's apps): a
// search input with data-filter-rows names the rows' container; its
// label is shown only where this script runs (data-reveal).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-reveal][hidden]").forEach(function (el) { el.hidden = false; });
  });
  document.addEventListener("input", function (e) {
    var box = e.target;
    if (!box.matches || !box.matches("input[data-filter-rows]")) return;
    var rows = document.querySelectorAll(box.getAttribute("data-filter-rows") + " > tr");
    var want = box.value.trim().toLowerCase(), shown = 0;
    rows.forEach(function (r) {
      var hit = !want || r.textContent.toLowerCase().indexOf(want) >= 0;
      r.hidden = !hit;
      if (hit) shown++;
    });
    var out = document.getElementById(box.id.replace(/-search$/, "-shown"));
    if (out) out.textContent = want ? shown + " of " + rows.length : "";
  });
})();

// The device list's columns a person chose to hide, kept in this
// browser (localStorage): a preference of the screen, not the account.
(function () {
  "use strict";
  var key = "trident-hidden-columns";
  function hidden() {
    try { return JSON.parse(localStorage.getItem(key) || "[]"); } catch (e) { return []; }
  }
  function apply() {
    var off = hidden();
    document.querySelectorAll("table.devices").forEach(function (t) {
      Array.prototype.slice.call(t.classList).forEach(function (c) { if (c.indexOf("hide-") === 0) t.classList.remove(c); });
      off.forEach(function (c) { t.classList.add("hide-" + c); });
    });
    document.querySelectorAll("input[data-column]").forEach(function (b) { b.checked = off.indexOf(b.getAttribute("data-column")) < 0; });
  }
  document.addEventListener("change", function (e) {
    var b = e.target;
    if (!b.matches || !b.matches("input[data-column]")) return;
    var off = hidden().filter(function (c) { return c !== b.getAttribute("data-column"); });
    if (!b.checked) off.push(b.getAttribute("data-column"));
    try { localStorage.setItem(key, JSON.stringify(off)); } catch (err) { /* storage off: this page only */ }
    apply();
  });
  document.addEventListener("DOMContentLoaded", apply);
})();
