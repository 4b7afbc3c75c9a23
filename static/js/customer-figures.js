// A customer's revenue chart (the Figures section, analytics/customer_figures.html), drawn
// from its json_script data (no inline script under the CSP), and the section's custom
// dates. Without this file the section still works: the chart has a table view of the same
// numbers and the controls are a plain GET form.
(function () {
  "use strict";

  var COLOURS = { revenue: "rgba(59, 91, 219, 0.85)", net_revenue: "rgba(112, 72, 232, 0.55)" };
  // The period still running is drawn lighter: its figures are still moving.
  var PARTIAL_ALPHA = 0.3;
  // A bar never grows wider than this: a range of one or two periods shows narrow bars on
  // an axis holding every period, not one block across the plot.
  var MAX_BAR_THICKNESS = 36;

  function fractionDigits(currency) {
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency: currency })
        .resolvedOptions().maximumFractionDigits;
    } catch (error) {
      return 2;
    }
  }

  function lighter(colour) {
    return colour.replace(/[\d.]+\)$/, PARTIAL_ALPHA + ")");
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.customerChart);
    // A canvas restored from htmx's history cache keeps data-drawn but has no chart: ask
    // Chart.js rather than the attribute.
    if (!source || window.Chart.getChart(canvas)) return;
    canvas.dataset.drawn = "1";
    var data = JSON.parse(source.textContent);
    var scale = Math.pow(10, fractionDigits(data.currency));
    var money = new Intl.NumberFormat(undefined, { style: "currency", currency: data.currency });

    var datasets = data.series.map(function (series) {
      var colour = COLOURS[series.slug] || "rgba(134, 142, 150, 0.8)";
      return {
        type: "bar",
        label: series.label,
        data: series.values.map(function (v) { return v / scale; }),
        backgroundColor: data.partial.map(function (p) { return p ? lighter(colour) : colour; }),
        borderRadius: 3,
        maxBarThickness: MAX_BAR_THICKNESS,
      };
    });

    new window.Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          // Every period of the range is a category, with or without orders.
          x: { type: "category", grid: { display: false }, ticks: { maxRotation: 0, autoSkipPadding: 12 } },
          y: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              title: function (items) {
                var i = items[0].dataIndex;
                return data.labels[i] + (data.partial[i] ? " (so far)" : "");
              },
              label: function (ctx) { return ctx.dataset.label + ": " + money.format(ctx.parsed.y); },
            },
          },
        },
      },
    });
  }

  function drawAll(root) {
    if (!window.Chart || !root.querySelectorAll) return;
    root.querySelectorAll("canvas[data-customer-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();
