/* Data pool charts: each <canvas data-chart="ID"> is drawn from the JSON in <script id="ID">
   (rendered by Django's json_script; no inline script). Chart.js is served locally
   (static/vendor/chartjs); without it the tables next to the charts still hold every number. */
(function () {
  "use strict";
  var PALETTE = ["#b3261e", "#1a5fb4", "#1e7e34", "#d9480f", "#6f42c1", "#5f6368"];

  function draw(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-chart"));
    if (!source || typeof window.Chart === "undefined") { return; }
    var spec = JSON.parse(source.textContent);
    var line = spec.type === "line";
    var datasets = spec.series.map(function (s, i) {
      var colour = PALETTE[i % PALETTE.length];
      return {
        label: s.label,
        data: s.data,
        borderColor: colour,
        backgroundColor: line ? colour + "22" : colour + "cc",
        fill: line,
        tension: 0.2,
        pointRadius: line ? 3 : 0,
        maxBarThickness: 36
      };
    });
    var valueAxis = { beginAtZero: true, ticks: { precision: 0 } };
    if (spec.y_min !== undefined) { valueAxis.min = spec.y_min; }
    if (spec.y_max !== undefined) { valueAxis.max = spec.y_max; }
    var categoryAxis = { ticks: { autoSkip: true, maxRotation: 45, callback: function (value) {
      var label = this.getLabelForValue(value);
      return typeof label === "string" && label.length > 14 ? label.slice(0, 13) + "…" : label;
    } } };
    var horizontal = Boolean(spec.horizontal);
    new window.Chart(canvas, {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: datasets.length > 1, position: "bottom" } },
        scales: horizontal ? { x: valueAxis, y: categoryAxis } : { x: categoryAxis, y: valueAxis }
      }
    });
  }

  function init() {
    if (typeof window.Chart !== "undefined") {
      // the portal's own (system) fonts, so Chinese labels render like the page around them
      window.Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
      window.Chart.defaults.color = "#5f6368";
    }
    Array.prototype.forEach.call(document.querySelectorAll("canvas[data-chart]"), draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
