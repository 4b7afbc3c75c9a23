// Small progressive enhancements; every page works without them.
(function () {
  "use strict";

  // Copy buttons: <button data-copy="value">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) return;
    navigator.clipboard.writeText(button.dataset.copy).then(function () {
      button.classList.add("copied");
      setTimeout(function () { button.classList.remove("copied"); }, 1500);
    });
  });

  // "Add another key" on the new-customer form clones the last blank metadata row.
  document.addEventListener("click", function (event) {
    if (!event.target.matches("[data-add-metadata-row]")) return;
    var rows = document.getElementById("metadata-rows");
    var last = rows.querySelector("[data-metadata-row]:last-child");
    var copy = last.cloneNode(true);
    copy.classList.remove("invalid");
    copy.querySelectorAll("input").forEach(function (input) { input.value = ""; });
    copy.querySelectorAll(".error").forEach(function (error) { error.remove(); });
    rows.appendChild(copy);
    copy.querySelector("input").focus();
  });

  // The metadata filter suggests the values of the key typed: each key has a datalist.
  function suggestValues(event) {
    var key = event.target.closest && event.target.closest("[data-suggest-values]");
    if (!key) return;
    var input = document.getElementById(key.dataset.suggestValues);
    var lists = document.querySelectorAll("datalist[data-key]");
    var match = Array.prototype.find.call(lists, function (list) { return list.dataset.key === key.value; });
    if (match) input.setAttribute("list", match.id); else input.removeAttribute("list");
  }
  document.addEventListener("input", suggestValues);
  document.addEventListener("change", suggestValues);

  // The revenue chart reads its data from a json_script block (no inline script).
  function drawRevenueChart(root) {
    var canvas = root.querySelector("#revenue-chart");
    var data = root.querySelector("#revenue-data");
    if (!canvas || !data || !window.Chart || canvas.dataset.drawn) return;
    canvas.dataset.drawn = "1";
    var rows = JSON.parse(data.textContent);
    var currency = canvas.dataset.currency;
    var digits = ["JPY", "KRW", "VND", "CLP", "ISK"].indexOf(currency) >= 0 ? 0 : 2;
    var scale = Math.pow(10, digits);
    var format = new Intl.NumberFormat(undefined, { style: "currency", currency: currency });
    new window.Chart(canvas, {
      data: {
        labels: rows.map(function (r) { return r.month; }),
        datasets: [
          {
            type: "line", label: "Cumulative", yAxisID: "y",
            data: rows.map(function (r) { return r.cumulative / scale; }),
            borderColor: "#3b5bdb", backgroundColor: "rgba(59, 91, 219, 0.08)",
            fill: true, tension: 0.25, pointRadius: 2,
          },
          {
            type: "bar", label: "Per month", yAxisID: "y",
            data: rows.map(function (r) { return r.revenue / scale; }),
            backgroundColor: "rgba(112, 72, 232, 0.35)", borderRadius: 3,
          },
        ],
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom" },
          tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + format.format(ctx.parsed.y); } } },
        },
        scales: { y: { beginAtZero: true, ticks: { callback: function (v) { return format.format(v); } } } },
      },
    });
  }

  // Focus the first field in error, on a page the server sent back and on a fragment htmx
  // swapped in (the server also marks it with autofocus, which a swap does not honour
  // once the page has loaded). A field the person is already in keeps the focus.
  function focusFirstError(root) {
    var field = root.querySelector('[aria-invalid="true"]');
    var active = document.activeElement;
    if (!field || (active && active.getAttribute("aria-invalid") === "true")) return;
    field.focus();
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawRevenueChart(document);
    focusFirstError(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    focusFirstError(event.target.isConnected ? event.target : document);
  });
})();
