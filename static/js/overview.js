// The overview page's charts, drawn from each chart's json_script data (no inline script
// under the CSP), and its custom dates. The page works without this file: every chart has
// a table view of the same numbers, and the controls are a plain GET form.
(function () {
  "use strict";

  var COLOURS = {
    revenue: "rgba(59, 91, 219, 0.85)",
    net_revenue: "rgba(112, 72, 232, 0.55)",
    monthly_recurring_revenue: "#3b5bdb",
    active_subscriptions: "#2b8a3e",
  };
  // The period still running is drawn lighter (and dashed): its figures are still moving.
  var PARTIAL_ALPHA = 0.3;

  function fractionDigits(currency) {
    try {
      return new Intl.NumberFormat("en", { style: "currency", currency: currency })
        .resolvedOptions().maximumFractionDigits;
    } catch (error) {
      return 2;
    }
  }

  function lighter(colour) {
    if (colour.indexOf("rgba") === 0) return colour.replace(/[\d.]+\)$/, PARTIAL_ALPHA + ")");
    var hex = colour.replace("#", "");
    var rgb = [0, 2, 4].map(function (i) { return parseInt(hex.substr(i, 2), 16); });
    return "rgba(" + rgb.join(", ") + ", " + PARTIAL_ALPHA + ")";
  }

  function draw(canvas) {
    var source = document.getElementById(canvas.dataset.overviewChart);
    // A canvas restored from htmx's history copy keeps data-drawn but has no chart: ask
    // Chart.js rather than the attribute.
    if (!source || window.Chart.getChart(canvas)) return;
    canvas.dataset.drawn = "1";
    var data = JSON.parse(source.textContent);
    var scale = Math.pow(10, fractionDigits(data.currency));
    var money = new Intl.NumberFormat(undefined, { style: "currency", currency: data.currency });
    var count = new Intl.NumberFormat(undefined);
    var bars = canvas.dataset.kind === "bar";
    var hasCounts = data.series.some(function (s) { return s.type !== "currency"; });

    var datasets = data.series.map(function (series) {
      var isMoney = series.type === "currency";
      var colour = COLOURS[series.slug] || "#868e96";
      var set = {
        type: bars ? "bar" : "line",
        label: series.label,
        data: series.values.map(function (v) { return isMoney ? v / scale : v; }),
        yAxisID: isMoney || !hasCounts ? "y" : "y1",
        isMoney: isMoney,
      };
      if (bars) {
        set.backgroundColor = data.partial.map(function (p) { return p ? lighter(colour) : colour; });
        set.borderRadius = 3;
      } else {
        set.borderColor = colour;
        set.backgroundColor = colour;
        set.tension = 0.2;
        set.pointRadius = data.labels.length > 40 ? 0 : 2;
        set.segment = {
          borderDash: function (ctx) { return data.partial[ctx.p1DataIndex] ? [4, 4] : undefined; },
        };
      }
      return set;
    });

    var scales = {
      y: { beginAtZero: true, ticks: { callback: function (v) { return money.format(v); } } },
    };
    if (hasCounts) {
      scales.y1 = {
        position: "right", beginAtZero: true, grid: { drawOnChartArea: false },
        ticks: { precision: 0 },
      };
    }
    new window.Chart(canvas, {
      data: { labels: data.labels, datasets: datasets },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            callbacks: {
              title: function (items) {
                var i = items[0].dataIndex;
                return data.labels[i] + (data.partial[i] ? " (so far)" : "");
              },
              label: function (ctx) {
                var value = ctx.dataset.isMoney ? money.format(ctx.parsed.y) : count.format(ctx.parsed.y);
                return ctx.dataset.label + ": " + value;
              },
            },
          },
        },
      },
    });
  }

  function drawAll(root) {
    if (!window.Chart) return;
    root.querySelectorAll("canvas[data-overview-chart]").forEach(draw);
  }

  document.addEventListener("DOMContentLoaded", function () { drawAll(document); });
  document.addEventListener("htmx:load", function (event) { drawAll(event.target); });
})();
