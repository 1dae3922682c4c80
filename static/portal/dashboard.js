/* Dashboard charts. Each <canvas data-dashboard-chart="severity|tasks" data-source="ID"> is drawn
   from the JSON in <script id="ID"> (Django's json_script; no inline script, so a strict
   Content-Security-Policy can come later). htmx replaces #dashboard-live every few seconds
   (hx-trigger in portal/_dashboard_live.html): the old charts are destroyed before the swap and
   the new canvases drawn after it. Chart.js and htmx are served locally (static/vendor); without
   them the tables next to the charts hold every number and a reload shows the latest state. */
(function () {
  "use strict";

  var BAR_HEIGHT = 30; // px per department in the horizontal task chart
  var MAX_LABEL = 12; // characters of a department name on the chart axis (the table has it whole)

  if (window.htmx) {
    // no eval (hx-on, trigger filters) and no injected <style>: both would need CSP exceptions
    window.htmx.config.allowEval = false;
    window.htmx.config.includeIndicatorStyles = false;
    // nor copying the old canvases' style attribute (Chart.js sizes them) onto the new ones while
    // settling a swap: setAttribute("style") is an inline style the policy refuses
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
  }

  function spec(canvas) {
    var source = document.getElementById(canvas.getAttribute("data-source"));
    return source ? JSON.parse(source.textContent) : null;
  }

  function shorten(label) {
    return typeof label === "string" && label.length > MAX_LABEL ? label.slice(0, MAX_LABEL - 1) + "…" : label;
  }

  var legend = { position: "bottom", labels: { boxWidth: 12, boxHeight: 12, padding: 10 } };

  function severityChart(canvas, data) {
    return new window.Chart(canvas, {
      type: "doughnut",
      data: {
        labels: data.labels,
        datasets: [{ data: data.data, backgroundColor: data.colours, borderColor: "#fff", borderWidth: 2 }]
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        cutout: "55%",
        plugins: { legend: legend }
      }
    });
  }

  function taskChart(canvas, data) {
    // statuses stack into one bar per department; overdue (a subset of them) is a bar of its own
    var datasets = data.series.map(function (s) {
      return { label: s.label, data: s.data, backgroundColor: s.colour, stack: "status", maxBarThickness: 22 };
    });
    datasets.push({
      label: canvas.getAttribute("data-overdue-label"),
      data: data.overdue.data,
      backgroundColor: data.overdue.colour,
      stack: "overdue",
      maxBarThickness: 22
    });
    var box = canvas.parentNode;
    box.style.height = Math.max(180, 110 + BAR_HEIGHT * data.labels.length) + "px";
    return new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        indexAxis: "y", // long (Chinese) department names read along the axis, also on a phone
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } },
          y: {
            stacked: true,
            ticks: {
              autoSkip: false,
              callback: function (value) { return shorten(this.getLabelForValue(value)); }
            }
          }
        },
        plugins: {
          legend: legend,
          tooltip: { callbacks: { title: function (items) { return items.length ? items[0].label : ""; } } }
        }
      }
    });
  }

  var DRAW = { severity: severityChart, tasks: taskChart };

  function canvases(root) {
    return (root || document).querySelectorAll("canvas[data-dashboard-chart]");
  }

  function destroy(root) {
    if (typeof window.Chart === "undefined") { return; }
    Array.prototype.forEach.call(canvases(root), function (canvas) {
      var chart = window.Chart.getChart(canvas);
      if (chart) { chart.destroy(); }
    });
  }

  function draw(root) {
    if (typeof window.Chart === "undefined") { return; }
    Array.prototype.forEach.call(canvases(root), function (canvas) {
      var data = spec(canvas);
      var kind = DRAW[canvas.getAttribute("data-dashboard-chart")];
      if (!data || !kind || window.Chart.getChart(canvas)) { return; }
      kind(canvas, data);
    });
  }

  function init() {
    if (typeof window.Chart !== "undefined") {
      // the portal's own (system) fonts, so Chinese labels render like the page around them
      window.Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
      window.Chart.defaults.color = "#5f6368";
    }
    draw(document);
  }

  document.addEventListener("htmx:beforeSwap", function (event) {
    // only when the response will replace the charts (an error response keeps the old ones)
    if (event.detail && event.detail.shouldSwap && event.detail.target) { destroy(event.detail.target); }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    draw(event.target && event.target.querySelectorAll ? event.target : document);
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
