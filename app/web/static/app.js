// LabLedger pages: charts from data attributes, and in-place actions that call the REST API.
"use strict";

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

function drawCharts() {
  if (typeof Chart === "undefined") return;
  const colours = [cssVar("--busy"), cssVar("--idle"), cssVar("--third")];
  Chart.defaults.color = cssVar("--muted");
  Chart.defaults.borderColor = cssVar("--line");
  for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
    const spec = JSON.parse(canvas.dataset.chart);
    new Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.series.map((s, i) => ({
          label: s.label, data: s.data,
          backgroundColor: colours[i % colours.length], borderColor: colours[i % colours.length],
        })),
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        scales: { x: { stacked: spec.stacked }, y: { stacked: spec.stacked, beginAtZero: true } },
      },
    });
  }
}

function formBody(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name || field.value === "") continue;
    if (field.type === "datetime-local") {
      body[field.name] = new Date(field.value).toISOString();
    } else if (field.hasAttribute("data-int")) {
      body[field.name] = parseInt(field.value, 10);
    } else {
      body[field.name] = field.value;
    }
  }
  return body;
}

async function act(event) {
  const form = event.target.closest("form[data-api]");
  if (!form) return;
  event.preventDefault();
  const out = form.querySelector("output.result");
  const buttons = form.querySelectorAll("button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const response = await fetch(form.dataset.api, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrfToken() },
      body: JSON.stringify(formBody(form)),
    });
    if (response.ok) {
      out.classList.remove("error");
      out.textContent = form.dataset.done || "Done";
      const row = form.closest("tr");
      // One decision settles the row: every control in it (approve and reject alike) is done.
      for (const field of (row || form).querySelectorAll("button, input, select")) field.disabled = true;
      if (row) row.classList.add("done");
    } else {
      const problem = await response.json().catch(() => ({}));
      out.classList.add("error");
      out.textContent = (problem.error && problem.error.message) || `Failed (${response.status})`;
      buttons.forEach((b) => { b.disabled = false; });
    }
  } catch (err) {
    out.classList.add("error");
    out.textContent = "Could not reach the server.";
    buttons.forEach((b) => { b.disabled = false; });
  }
}

document.addEventListener("submit", act);
document.addEventListener("DOMContentLoaded", drawCharts);
