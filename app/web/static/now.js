// The Now page: follows the live stream and redraws the cards from /api/v1/now, without a reload.
"use strict";

function duration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const d = Math.floor(total / 86400), h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60), s = total % 60;
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return `${m} min`;
  return `${s} s`;
}

function moment(iso) {
  if (!iso) return "–";
  return new Date(iso).toISOString().slice(0, 16).replace("T", " ") + " UTC";
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function card(m) {
  const cls = `card state-${m.state}` + (m.out_of_service ? " out-of-service" : "");
  const item = el("li", { class: cls, "data-machine": String(m.machine_id) },
    el("h3", {}, el("a", { href: `/machines/${m.machine_id}` }, m.name)),
    el("p", { class: "badge" }, m.state + (m.out_of_service ? " · out of service" : "")));
  if (m.since) item.append(el("p", { class: "muted" }, `since ${moment(m.since)}`));
  if (m.job) item.append(el("p", { class: "job" }, m.job));
  if (m.progress !== null) {
    item.append(el("p", { class: "progress" },
      el("progress", { max: "100", value: String(m.progress), "aria-label": `Progress of ${m.name}` }),
      " ", el("span", {}, `${Math.round(m.progress)} %`)));
  }
  if (m.operator) {
    item.append(el("p", {}, m.operator + (m.session_since ? ` · since ${moment(m.session_since)}` : "")));
  }
  return item;
}

function fill(list, items, render, emptyText) {
  list.replaceChildren(...(items.length ? items.map(render) : [el("li", { class: "empty" }, emptyText)]));
}

async function refresh() {
  const response = await fetch("/api/v1/now", { credentials: "same-origin" });
  if (!response.ok) return;
  const now = await response.json();
  fill(document.getElementById("machine-cards"), now.machines, card, "No machines yet.");
  fill(document.getElementById("present"), now.present, (p) => el("li", {},
    el("strong", {}, p.contributor), ` ${p.machine ? "at " + p.machine : "in the lab"} · since ${moment(p.since)}`),
    "Nobody is badged in.");
  fill(document.getElementById("unknown"), now.unknown_scans, (u) => el("li", {},
    el("code", {}, u.card_id), ` at ${u.reader} · ${moment(u.at)} (${u.reason})`), "None recently.");
}

function follow() {
  const status = document.getElementById("live-status");
  const source = new EventSource("/api/v1/stream");
  source.addEventListener("hello", () => { status.textContent = "live"; status.className = "live on"; });
  source.addEventListener("change", () => { refresh(); });
  source.onerror = () => { status.textContent = "reconnecting…"; status.className = "live off"; };
  setInterval(refresh, 30000);
}

document.addEventListener("DOMContentLoaded", follow);
