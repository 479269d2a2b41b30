// Trident's own: new rows from the live stream. A container marked
// data-new-rows takes the whole rows (<tr id=...>) its stream sends; a
// row already on the page (the person's own action put it there, or the
// page read it after its stream began) has its cells refreshed instead
// of a second copy. data-new-rows="unfiltered" takes rows only while the
// list's URL has no filter: a new device may not match one.
(function () {
  "use strict";
  var filters = ["q", "platform", "compliance", "group", "rule"];
  function filtered() {
    var p = new URLSearchParams(location.search);
    return filters.some(function (f) { return p.get(f); });
  }
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var box = e.target;
    if (!box.hasAttribute || !box.hasAttribute("data-new-rows") || !e.detail || typeof e.detail.data !== "string") return;
    var t = document.createElement("template");
    t.innerHTML = e.detail.data.trim();
    var row = t.content.querySelector("tr[id]");
    if (!row) return;
    var have = document.getElementById(row.id);
    if (have) {
      e.preventDefault();
      have.innerHTML = row.innerHTML;
      htmx.process(have);
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
