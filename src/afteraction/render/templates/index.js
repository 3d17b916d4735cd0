(function () {
  "use strict";
  // Sort and filter the incidents table. Reads data from the DOM only; writes only numbers and
  // attributes, never markup.
  var table = document.getElementById("incidents");
  if (!table || !table.tBodies.length) { return; }
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
  function el(id) { return document.getElementById(id); }
  var q = el("f-q"), type = el("f-type"), severity = el("f-severity"), status = el("f-status");
  var from = el("f-from"), to = el("f-to"), shown = el("f-shown"), none = el("f-none");

  function apply() {
    var needle = q.value.trim().toLowerCase();
    var n = 0;
    rows.forEach(function (row, i) {
      var d = row.dataset;
      var ok = (!type.value || d.type === type.value) &&
        (!severity.value || d.severity === severity.value) &&
        (!status.value || d.status === status.value) &&
        (!from.value || (d.date !== "" && d.date >= from.value)) &&
        (!to.value || (d.date !== "" && d.date <= to.value)) &&
        (!needle || texts[i].indexOf(needle) !== -1);
      row.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
    none.hidden = n !== 0;
  }

  [q, type, severity, status, from, to].forEach(function (input) {
    input.addEventListener("input", apply);
    input.addEventListener("change", apply);
  });
  el("f-reset").addEventListener("click", function () {
    [q, type, severity, status, from, to].forEach(function (input) { input.value = ""; });
    apply();
  });

  var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
  function key(row, column, numeric) {
    var v = row.cells[column].getAttribute("data-v") || "";
    if (!numeric) { return v.toLowerCase(); }
    return v === "" ? null : parseFloat(v);
  }
  function sortBy(column, descending) {
    var numeric = headers[column].getAttribute("data-sort") === "num";
    var order = rows.map(function (row, i) { return { row: row, i: i, k: key(row, column, numeric) }; });
    order.sort(function (a, b) {
      if (a.k === b.k) { return a.i - b.i; }
      if (a.k === null) { return 1; }
      if (b.k === null) { return -1; }
      var c = a.k < b.k ? -1 : 1;
      return descending ? -c : c;
    });
    order.forEach(function (item) { body.appendChild(item.row); });
    rows = order.map(function (item) { return item.row; });
    texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    headers.forEach(function (th, i) {
      if (i === column) { th.setAttribute("aria-sort", descending ? "descending" : "ascending"); }
      else { th.removeAttribute("aria-sort"); }
    });
  }
  headers.forEach(function (th, column) {
    var button = th.querySelector("button");
    if (!button) { return; }
    button.addEventListener("click", function () {
      var descending = th.getAttribute("aria-sort") === "ascending";
      if (!th.hasAttribute("aria-sort")) { descending = th.getAttribute("data-sort") === "num"; }
      sortBy(column, descending);
    });
  });
  apply();
}());
