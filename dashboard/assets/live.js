// Trident's own: new rows from the live stream. A container marked
// data-new-rows takes the whole rows (<tr id=...>) its stream sends; a
// row already on the page (the person's own action put it there, or the
// page read it after its stream began) has its cells refreshed instead
// of a second copy. data-new-rows="unfiltered" takes rows only while the
// list's URL has no filter: a new device may not match one.
(function () {
  "use strict";
  var filters = ["q", "platform", "compliance", "group", "rule"];
  // rowOf is the one row with an id that html holds, if it is that.
  function rowOf(html) {
    var t = document.createElement("template");
    t.innerHTML = html.trim();
    var rows = t.content.querySelectorAll("tr[id]");
    return rows.length === 1 ? rows[0] : null;
  }
  // refresh puts row's cells into the row of its id already on the page,
  // and says whether there was one.
  function refresh(row) {
    var have = row && document.getElementById(row.id);
    if (!have) return false;
    have.innerHTML = row.innerHTML;
    htmx.process(have);
    return true;
  }
  // The person's own action answers the new row too (the composer's
  // send, which adds its answer at the top), and the stream may bring
  // it first: once both are in, the lower copy goes.
  function dedupe(box) {
    var seen = {};
    box.querySelectorAll(":scope > tr[id]").forEach(function (r) {
      if (seen[r.id]) r.remove();
      else seen[r.id] = true;
    });
  }
  document.addEventListener("htmx:afterSwap", function (e) {
    var box = e.detail && e.detail.target;
    if (box && box.hasAttribute && box.hasAttribute("data-new-rows")) dedupe(box);
  });
  document.addEventListener("htmx:sseMessage", function (e) {
    var box = e.target;
    if (box && box.hasAttribute && box.hasAttribute("data-new-rows")) dedupe(box);
  });
  function filtered() {
    var p = new URLSearchParams(location.search);
    return filters.some(function (f) { return p.get(f); });
  }
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var box = e.target;
    if (!box.hasAttribute || !box.hasAttribute("data-new-rows") || !e.detail || typeof e.detail.data !== "string") return;
    var row = rowOf(e.detail.data);
    if (!row) return;
    if (refresh(row)) {
      e.preventDefault();
      return;
    }
    if (box.getAttribute("data-new-rows") === "unfiltered" && filtered()) {
      e.preventDefault();
      return;
    }
    // Empty-list placeholders go once there is a row.
    box.querySelectorAll("tr.empty").forEach(function (r) { r.remove(); });
  });
})();
