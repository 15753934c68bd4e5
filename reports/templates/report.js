/* s3audit HTML report: filter, sort and open the findings. Reads the rows' data attributes
   and writes text only (textContent, never markup), so nothing from the report is parsed. */
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  var table = document.getElementById("findings-table");
  var form = document.getElementById("filters");
  if (!table || !form) return;
  var bodies = Array.prototype.slice.call(table.tBodies);
  var total = bodies.length;
  var selects = Array.prototype.slice.call(form.querySelectorAll("select[data-key]"));
  var search = document.getElementById("f-text");
  var count = document.getElementById("count");
  var noMatch = document.getElementById("no-match");
  var printNote = document.getElementById("print-filter");
  var plural = function (n) { return n + (n === 1 ? " finding" : " findings"); };

  function apply() {
    var wanted = selects.filter(function (s) { return s.value !== ""; });
    var query = search.value.trim().toLowerCase();
    var shown = 0;
    bodies.forEach(function (b) {
      var match = wanted.every(function (s) { return b.dataset[s.dataset.key] === s.value; }) &&
        (query === "" || b.textContent.toLowerCase().indexOf(query) !== -1);
      b.hidden = !match;
      if (match) shown += 1;
    });
    count.textContent = shown === total ? plural(total) : shown + " of " + plural(total) + " shown";
    noMatch.hidden = shown !== 0;
    var active = wanted.map(function (s) {
      return s.dataset.key + " = " + s.options[s.selectedIndex].text;
    });
    if (query !== "") active.push("text contains \u201c" + query + "\u201d");
    printNote.hidden = active.length === 0;
    printNote.textContent = active.length === 0 ? "" :
      "Filtered view: " + shown + " of " + plural(total) + " (" + active.join("; ") +
      "). Clear the filters to print every finding.";
  }

  form.addEventListener("submit", function (e) { e.preventDefault(); });
  form.addEventListener("change", apply);
  search.addEventListener("input", apply);
  // The form resets its fields after this event; filter on what it reset them to.
  form.addEventListener("reset", function () { setTimeout(apply, 0); });

  /* Sorting: ascending is each column's natural order (fail first, critical first, A to Z);
     ties keep the report's order. */
  var orders = {
    status: function (a, b) { return a.dataset.statusRank - b.dataset.statusRank; },
    severity: function (a, b) { return b.dataset.severityRank - a.dataset.severityRank; },
    rule: function (a, b) { return a.dataset.rule.localeCompare(b.dataset.rule); },
    bucket: function (a, b) { return a.dataset.bucket.localeCompare(b.dataset.bucket); }
  };
  var sorters = Array.prototype.slice.call(table.querySelectorAll("button.sort"));
  sorters.forEach(function (button) {
    button.addEventListener("click", function () {
      var dir = button.dataset.dir === "asc" ? "desc" : "asc";
      sorters.forEach(function (other) {
        delete other.dataset.dir;
        other.parentNode.removeAttribute("aria-sort");
      });
      button.dataset.dir = dir;
      button.parentNode.setAttribute("aria-sort", dir === "asc" ? "ascending" : "descending");
      var order = orders[button.dataset.sort];
      var sign = dir === "asc" ? 1 : -1;
      bodies.slice().sort(function (a, b) {
        return sign * order(a, b) || a.dataset.index - b.dataset.index;
      }).forEach(function (b) { table.appendChild(b); });
    });
  });

  /* Details: evidence, counterexample and remediation under each finding. */
  function setOpen(body, open) {
    body.classList.toggle("open", open);
    var toggle = body.querySelector("button.toggle");
    toggle.setAttribute("aria-expanded", String(open));
    toggle.textContent = open ? "Hide" : "Details";
  }
  table.addEventListener("click", function (e) {
    var toggle = e.target.closest("button.toggle");
    if (toggle) {
      var body = toggle.closest("tbody");
      setOpen(body, !body.classList.contains("open"));
    }
  });
  var expandAll = document.getElementById("expand-all");
  expandAll.addEventListener("click", function () {
    var open = expandAll.getAttribute("aria-pressed") !== "true";
    bodies.forEach(function (b) { setOpen(b, open); });
    expandAll.setAttribute("aria-pressed", String(open));
    expandAll.textContent = open ? "Collapse all" : "Expand all";
  });

  apply();
})();
