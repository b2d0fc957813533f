// embercast dashboard: devices by zone, alarms, the latest heat map and charts of one device,
// kept up to date by the service's event stream (GET /v1/live/events). Plain JavaScript, no
// libraries: text goes in with textContent only, charts are SVG.
"use strict";

const HISTORY = 720; // points kept per chart, as the service keeps
const SVG = "http://www.w3.org/2000/svg";
const CHARTS = [
  { key: "p_fire", title: "Fire probability", unit: "", from: "p", min: 0, max: 1, colour: "#e0561f" },
  { key: "co2_ppm", title: "CO2", unit: "ppm", from: "r", colour: "#5aa9e6" },
  { key: "temperature_c", title: "Temperature", unit: "°C", from: "r", colour: "#e6b35a" },
  { key: "humidity_pct", title: "Relative humidity", unit: "%", from: "r", colour: "#7ad67a" },
];

const view = {
  live: null, // GET /v1/live
  selected: null, // device id shown in detail
  history: new Map(), // device id -> {p: predictions, r: readings}
  events: null, // the EventSource
  retry: null, // timer of a manual reconnect
  reload: null, // timer of a debounced reload
  scope: null, // the session key's scope: read, operate or admin
  zoneStates: new Map(), // zone -> GET /v1/zones entry (the fire panel's state)
  zoneNotes: new Map(), // zone -> the last action's outcome, shown under its buttons
  zonePoll: null, // timer of the zone states' refresh
  systemPoll: null, // timer of the system panel's refresh (GET /v1/system)
};

const CAUSES = ["cooking", "toaster", "steam", "smoking", "candles", "heater", "hot_machinery",
  "sunlight", "dust", "sensor_fault", "other"];

const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function fmtTime(ts) {
  if (ts === null || ts === undefined) return "-";
  if (ts > 1e9) return new Date(ts * 1000).toLocaleTimeString();
  return `t = ${Math.round(ts)} s`;
}

function fmt(value, digits, unit) {
  if (value === null || value === undefined || Number.isNaN(value)) return "-";
  return `${Number(value).toFixed(digits)}${unit ? " " + unit : ""}`;
}

class Unauthorized extends Error {}

async function api(path, options) {
  const response = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
  if (response.status === 401) throw new Unauthorized(path);
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// ------------------------------------------------------------------ sign-in

function showLogin(message) {
  closeEvents();
  clearInterval(view.zonePoll);
  clearInterval(view.systemPoll);
  $("app").hidden = true;
  $("logout").hidden = true;
  $("who").textContent = "";
  $("login").hidden = false;
  $("login-error").textContent = message || "";
  setStatus("offline");
  $("key").focus();
}

async function signIn(event) {
  event.preventDefault();
  const key = $("key").value.trim();
  const response = await fetch("/v1/session", {
    method: "POST",
    credentials: "same-origin",
    headers: { Authorization: `Bearer ${key}` },
  });
  $("key").value = "";
  if (!response.ok) {
    $("login-error").textContent = response.status === 401
      ? "That key is unknown or revoked." : `Sign-in failed (${response.status}).`;
    return;
  }
  await start();
}

async function signOut() {
  try {
    await api("/v1/session", { method: "DELETE" });
  } catch (err) {
    // signed out either way
  }
  showLogin("Signed out.");
}

async function start() {
  let who;
  try {
    who = await api("/v1/session");
  } catch (err) {
    showLogin(err instanceof Unauthorized ? "" : "The service does not answer.");
    return;
  }
  $("login").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = false;
  $("who").textContent = `${who.name} (${who.scope})`;
  view.scope = who.scope;
  await loadLive();
  connect();
  clearInterval(view.zonePoll);
  view.zonePoll = setInterval(loadZones, 2000);
  clearInterval(view.systemPoll);
  loadSystem();
  view.systemPoll = setInterval(loadSystem, 5000);
}

// ------------------------------------------------------------------ the system panel

async function loadSystem() {
  if ($("app").hidden) return;
  let system;
  try {
    system = await api("/v1/system");
  } catch (err) {
    return; // the next poll tries again
  }
  const conditions = $("conditions");
  conditions.replaceChildren(...Object.entries(system.conditions).sort().map(([name, seen]) =>
    el("li", { "data-condition": name }, `${name}: ${seen}`)));
  $("no-conditions").hidden = Object.keys(system.conditions).length > 0;
  $("agents").replaceChildren(...system.agents.map((a) => el("li",
    { "data-agent": a.name, "data-running": a.running },
    `${a.name}: ${a.running ? "running" : "down"}${a.restarts ? ` · ${a.restarts} restarts` : ""}`
      + `${a.last_error && !a.running ? ` · ${a.last_error}` : ""}`)));
  const learning = system.learning;
  const parts = [`${learning.drift.length} drifts found`];
  if (learning.shadow) {
    parts.push(`in the shadow: ${learning.shadow.other_model} over `
      + `${learning.shadow.device_hours.toFixed(1)} device-hours`);
  }
  const actions = learning.steward ? learning.steward.actions : [];
  if (actions.length) {
    const last = actions[actions.length - 1];
    parts.push(`last model action: ${last.action} ${last.model} (${last.done ? "done" : "refused"})`);
  }
  $("learning").textContent = parts.join(" · ");
}

// ------------------------------------------------------------------ zones (the fire panel)

async function loadZones() {
  if ($("app").hidden) return;
  try {
    const zones = await api("/v1/zones");
    view.zoneStates = new Map(zones.map((z) => [z.zone, z]));
  } catch (err) {
    return; // the next poll tries again
  }
  if (view.live) renderZones(view.live);
}

async function zoneAction(zone, path, body) {
  const response = await fetch(`/v1/zones/${encodeURIComponent(zone)}/${path}`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  let answer = null;
  try {
    answer = await response.json();
  } catch (err) {
    answer = null;
  }
  if (response.ok) {
    view.zoneNotes.set(zone, path === "feedback" ? `verdict recorded: ${body.verdict}` : `${body.action}: done`);
  } else {
    const detail = answer && answer.detail;
    const reason = detail && typeof detail === "object" ? detail.reason : detail;
    view.zoneNotes.set(zone, `${body.action || body.verdict}: refused (${reason || response.status})`);
  }
  await loadZones();
}

function zoneControls(zone, state) {
  const box = el("div", { class: "zone-controls" });
  const status = state
    ? `${state.state.replace("_", "-").toUpperCase()}${state.sounding ? " · sounding" : ""}`
      + `${state.acknowledged ? " · acknowledged" : ""}${state.silenced_until ? " · silenced" : ""}`
    : "no state yet";
  box.append(el("span", { class: "zone-state", "data-state": state ? state.state : "none" }, status));
  if (state && (view.scope === "operate" || view.scope === "admin")) {
    for (const [action, label] of [["acknowledge", "Acknowledge"], ["silence", "Silence"], ["reset", "Reset"]]) {
      const button = el("button", { type: "button", "data-action": action }, label);
      button.addEventListener("click", () => zoneAction(zone, "actions", { action }));
      box.append(button);
    }
    const cause = el("select", { "data-feedback": "cause", "aria-label": "cause of a false alarm" });
    for (const c of CAUSES) cause.append(el("option", { value: c }, c.replace("_", " ")));
    const falseAlarm = el("button", { type: "button", "data-action": "false_alarm" }, "False alarm");
    falseAlarm.addEventListener("click", () => zoneAction(zone, "feedback", { verdict: "false_alarm", cause: cause.value }));
    box.append(cause, falseAlarm);
  }
  const note = view.zoneNotes.get(zone);
  if (note) box.append(el("span", { class: "zone-note", role: "status" }, note));
  return box;
}

// ------------------------------------------------------------------ live state

async function loadLive() {
  try {
    view.live = await api("/v1/live");
    const zones = await api("/v1/zones").catch(() => null);
    if (zones) view.zoneStates = new Map(zones.map((z) => [z.zone, z]));
  } catch (err) {
    if (err instanceof Unauthorized) showLogin("The session has ended: sign in again.");
    return;
  }
  if (!view.selected || !findDevice(view.selected)) {
    const all = devices();
    const alarmed = all.find((d) => d.alarm);
    view.selected = (alarmed || all[0] || {}).device_id || null;
    if (view.selected) await loadHistory(view.selected);
  } else {
    await loadHistory(view.selected);
  }
  render();
}

function scheduleReload() {
  clearTimeout(view.reload);
  view.reload = setTimeout(loadLive, 300);
}

async function loadHistory(deviceId) {
  try {
    const h = await api(`/v1/live/${encodeURIComponent(deviceId)}/history`);
    view.history.set(deviceId, { p: h.predictions, r: h.readings });
  } catch (err) {
    view.history.set(deviceId, { p: [], r: [] });
  }
}

function devices() {
  return view.live ? view.live.zones.flatMap((z) => z.devices) : [];
}

function findDevice(deviceId) {
  return devices().find((d) => d.device_id === deviceId) || null;
}

// ------------------------------------------------------------------ events

function setStatus(state) {
  const status = $("status");
  status.dataset.state = state;
  status.textContent = state;
}

function closeEvents() {
  clearTimeout(view.retry);
  if (view.events) view.events.close();
  view.events = null;
}

function connect() {
  closeEvents();
  setStatus("connecting");
  const events = new EventSource("/v1/live/events");
  view.events = events;
  events.addEventListener("open", () => setStatus("live"));
  events.addEventListener("hello", (e) => {
    setStatus("live");
    const hello = JSON.parse(e.data);
    if (view.live) view.live.model = hello.model;
    loadLive(); // after a reconnect: whatever happened meanwhile
  });
  events.addEventListener("prediction", (e) => onPrediction(JSON.parse(e.data)));
  events.addEventListener("alarm", () => scheduleReload());
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) {
      // the browser gave up (an HTTP error): check the session, then start again
      setStatus("offline");
      view.retry = setTimeout(start, 2000);
    } else {
      setStatus("reconnecting"); // the browser retries by itself
    }
  });
}

function onPrediction(d) {
  const device = findDevice(d.device_id);
  if (!device) {
    scheduleReload(); // a device this page has not seen yet
    return;
  }
  device.prediction = d.prediction;
  device.risk = d.prediction.risk;
  device.alarm = d.prediction.alarm;
  if (d.reading) device.reading = d.reading;
  if (d.thermal) device.thermal = d.thermal;
  if (d.model) view.live.model = d.model;
  const h = view.history.get(d.device_id);
  if (h) {
    h.p.push(d.prediction);
    if (d.reading && (!h.r.length || d.reading.ts > h.r[h.r.length - 1].ts)) h.r.push(d.reading);
    if (h.p.length > HISTORY) h.p.splice(0, h.p.length - HISTORY);
    if (h.r.length > HISTORY) h.r.splice(0, h.r.length - HISTORY);
  }
  render();
}

// ------------------------------------------------------------------ drawing

function render() {
  const live = view.live;
  if (!live) return;
  const m = live.model;
  $("model").textContent = m ? `model: ${m.name}${m.version !== null ? " v" + m.version : ""}` : "model: none loaded";
  renderAlarms(live);
  renderZones(live);
  renderDetail();
}

function renderAlarms(live) {
  const list = $("alarms");
  list.replaceChildren();
  const active = live.alarms.filter((a) => a.state === "active");
  for (const a of live.alarms) {
    const zone = a.zone || (findDevice(a.device_id) || {}).zone || "-";
    const item = el("li", { "data-device-id": a.device_id, "data-state": a.state });
    const when = a.started_t !== undefined ? fmtTime(a.started_t) : fmtTime(a.t_s);
    const what = a.state === "active" ? "ALARM" : "cleared";
    item.textContent = `${what}: ${a.device_id} in ${zone}, ${a.peak_risk} risk, since ${when}`
      + (a.cause ? ` (${a.cause})` : "");
    list.append(item);
  }
  $("alarm-count").textContent = String(active.length);
  $("no-alarms").hidden = live.alarms.length > 0;
}

function renderZones(live) {
  const zones = $("zones");
  zones.replaceChildren();
  for (const z of live.zones) {
    const state = view.zoneStates.get(z.zone);
    const box = el("section", {
      class: "zone", "data-zone": z.zone, "data-alarm": z.alarm,
      "data-state": state ? state.state : "none", "data-sounding": Boolean(state && state.sounding),
      "data-acknowledged": Boolean(state && state.acknowledged),
    });
    const title = el("h3", {});
    title.append(el("span", {}, z.zone), el("span", { class: "risk", "data-risk": z.risk }, z.alarm ? `ALARM · ${z.risk}` : z.risk));
    box.append(title, zoneControls(z.zone, state));
    for (const d of z.devices) box.append(deviceRow(d));
    zones.append(box);
  }
  $("no-devices").hidden = live.zones.length > 0;
}

function deviceRow(d) {
  const p = d.prediction;
  const row = el("div", {
    class: "device", role: "button", tabindex: 0,
    "data-device-id": d.device_id, "data-risk": d.risk || "none", "data-alarm": Boolean(d.alarm),
    "data-t": p ? p.t_s : "", "aria-selected": d.device_id === view.selected,
  });
  const r = d.reading || {};
  row.append(
    el("span", { class: "name" }, d.name && d.name !== d.device_id ? `${d.name} (${d.device_id})` : d.device_id),
    el("span", { class: "risk", "data-risk": d.risk || "none" }, d.risk || "no data"),
    el("span", { class: "values" },
      `p ${p && p.p_fire !== null ? (100 * p.p_fire).toFixed(0) + " %" : "-"} · `
      + `CO2 ${fmt(r.co2_ppm, 0, "ppm")} · ${fmt(r.temperature_c, 1, "°C")} · `
      + `RH ${fmt(r.humidity_pct, 0, "%")} · ${fmtTime(p ? p.t_s : null)}`
      + (p && p.sensor_fault ? " · CO2 sensor fault" : "")
      + (p && p.heat ? ` · heat: ${p.heat}` : "")
      + (p && p.thermal_status !== "ok" ? ` · camera: ${p.thermal_status}` : "")),
  );
  const choose = async () => {
    view.selected = d.device_id;
    await loadHistory(d.device_id);
    render();
  };
  row.addEventListener("click", choose);
  row.addEventListener("keydown", (e) => { if (e.key === "Enter") choose(); });
  return row;
}

function renderDetail() {
  const device = view.selected ? findDevice(view.selected) : null;
  $("detail").hidden = !device;
  if (!device) return;
  $("detail-title").textContent = `${device.name || device.device_id} · ${device.zone}`;
  const img = $("thermal");
  const t = device.thermal;
  if (t) {
    const src = `/v1/live/${encodeURIComponent(device.device_id)}/thermal.png?ts=${t.ts}`;
    if (img.dataset.src !== src) {
      img.dataset.src = src;
      img.onload = () => { img.dataset.ts = String(t.ts); img.dataset.deviceId = device.device_id; };
      img.src = src;
    }
    $("thermal-caption").textContent = `${fmtTime(t.ts)} · ${t.min_c.toFixed(1)} to ${t.max_c.toFixed(1)} °C`;
  } else {
    img.removeAttribute("src");
    delete img.dataset.src;
    delete img.dataset.ts;
    $("thermal-caption").textContent = "no thermal frame yet";
  }
  renderCharts(view.history.get(device.device_id) || { p: [], r: [] });
}

function renderCharts(h) {
  const box = $("charts");
  box.replaceChildren();
  for (const spec of CHARTS) {
    const points = (spec.from === "p" ? h.p : h.r)
      .map((x) => [spec.from === "p" ? x.t_s : x.ts, x[spec.key]])
      .filter(([, v]) => v !== null && v !== undefined && !Number.isNaN(v));
    box.append(chart(spec, points));
  }
}

function chart(spec, points) {
  const W = 300, H = 110, L = 34, B = 14;
  const card = el("div", { class: "chart", "data-chart": spec.key, "data-points": points.length });
  const last = points.length ? points[points.length - 1][1] : null;
  const title = el("h4", {});
  title.append(el("span", {}, spec.title), el("span", {}, fmt(last, spec.key === "p_fire" ? 2 : 1, spec.unit)));
  card.append(title);
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const line = (x1, y1, x2, y2, cls) => {
    const l = document.createElementNS(SVG, "line");
    Object.entries({ x1, y1, x2, y2, class: cls }).forEach(([k, v]) => l.setAttribute(k, v));
    svg.append(l);
  };
  const label = (x, y, text) => {
    const t = document.createElementNS(SVG, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("class", "axis");
    t.textContent = text;
    svg.append(t);
  };
  if (points.length) {
    const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
    let lo = spec.min !== undefined ? spec.min : Math.min(...ys);
    let hi = spec.max !== undefined ? spec.max : Math.max(...ys);
    if (hi - lo < 1e-9) { lo -= 1; hi += 1; }
    const x0 = xs[0], x1 = Math.max(xs[xs.length - 1], x0 + 1e-9);
    const px = (x) => L + (W - L - 2) * (x - x0) / (x1 - x0);
    const py = (y) => 4 + (H - B - 8) * (1 - (y - lo) / (hi - lo));
    line(L, py(hi), W, py(hi), "grid");
    line(L, py(lo), W, py(lo), "grid");
    label(0, py(hi) + 3, fmt(hi, spec.key === "p_fire" ? 1 : 0));
    label(0, py(lo) + 3, fmt(lo, spec.key === "p_fire" ? 1 : 0));
    label(L, H - 2, fmtTime(x0));
    label(W - 70, H - 2, fmtTime(x1));
    const poly = document.createElementNS(SVG, "polyline");
    poly.setAttribute("class", "series");
    poly.setAttribute("stroke", spec.colour);
    poly.setAttribute("points", points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" "));
    svg.append(poly);
  } else {
    label(L, H / 2, "no data yet");
  }
  card.append(svg);
  return card;
}

// ------------------------------------------------------------------ start

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("logout").addEventListener("click", signOut);
  start();
});
