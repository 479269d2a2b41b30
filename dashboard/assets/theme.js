// Trident's own: the dashboard's theme. Loaded in <head> without defer so
// a chosen theme applies before the first paint. "system" (no data-theme)
// follows prefers-color-scheme in CSS; "light" and "dark" are stored in
// localStorage and set as data-theme on <html>.
(function () {
  var key = "trident-theme";
  function stored() {
    try { return localStorage.getItem(key) || "system"; } catch (e) { return "system"; }
  }
  function apply(choice) {
    if (choice === "light" || choice === "dark") {
      document.documentElement.setAttribute("data-theme", choice);
    } else {
      document.documentElement.removeAttribute("data-theme");
    }
    document.querySelectorAll("[data-theme-choice]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-theme-choice") === choice));
    });
  }
  apply(stored());
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".theme[hidden]").forEach(function (g) { g.hidden = false; });
    apply(stored());
    document.addEventListener("click", function (e) {
      var b = e.target.closest && e.target.closest("[data-theme-choice]");
      if (!b) return;
      var choice = b.getAttribute("data-theme-choice");
      try {
        if (choice === "system") localStorage.removeItem(key); else localStorage.setItem(key, choice);
      } catch (err) { /* storage off: the choice lasts this page */ }
      apply(choice);
    });
  });
})();
