// evsed's page: the live view from /api/live (server-sent events), sessions, station, controls.
// Data from the box is put into the page with textContent only (never parsed as HTML).
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const state = {csrf: null, password: false, sim: null, cards: {}, offsetMs: 0, curves: {}, firmware: {}};

function el(name, attrs = {}, ...children) {
  const node = document.createElement(name);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const child of children) node.append(child);
  return node;
}

function toast(text, bad = false) {
  const t = $("#toast");
  t.textContent = text;
  t.className = bad ? "bad" : "";
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, bad ? 6000 : 3000);
}

async function api(method, path, body) {
  const headers = {};
  if (state.csrf) headers["X-CSRF-Token"] = state.csrf;
  let payload;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  const answer = await fetch(path, {method, headers, body: payload});
  if (answer.status === 401) {
    location.reload();  // the session ended: the login form comes back
    throw new Error("logged out");
  }
  const type = answer.headers.get("Content-Type") || "";
  const result = type.includes("json") ? await answer.json() : answer;
  if (!answer.ok) throw new Error(result.error || `${method} ${path}: ${answer.status}`);
  return result;
}

async function act(method, path, body, done) {
  try {
    const result = await api(method, path, body);
    if (done || (result && result.words)) toast(done || result.words);
    return result;
  } catch (e) {
    toast(e.message, true);
    return null;
  }
}

// ---- numbers and times --------------------------------------------------------------------

const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v)) ? "–" : Number(v).toFixed(digits);
const kw = (w) => fmt(w / 1000, 2);
const kwh = (wh) => fmt(wh / 1000, 2);

function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}`;
}

function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toLocaleString([], {dateStyle: "short", timeStyle: "short"});
}

// ---- tabs -----------------------------------------------------------------------------------

function showTab(name) {
  for (const b of document.querySelectorAll("nav button")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== `tab-${name}`;
  if (name === "sessions") loadSessions();
  if (name === "station") loadStation();
}

// ---- the live view --------------------------------------------------------------------------

function card(id) {
  if (state.cards[id]) return state.cards[id];
  const c = el("article", {class: "card", id: `connector-${id}`, dataset: {connector: String(id)}});
  const f = (name, tag = "span", cls = "") => el(tag, {class: cls, dataset: {f: name}});
  c.append(
    el("h2", {}, el("span", {}, `Connector ${id}`), f("iec", "span", "pill")),
    f("title", "div", "status"),
    f("detail", "div", "status-line"),
    f("faults", "div"),
    f("notice", "div", "notice"),
    el("div", {class: "big"},
      el("div", {}, f("power", "b"), el("span", {}, "kW")),
      el("div", {}, f("energy", "b"), el("span", {}, "kWh this session")),
      el("div", {}, f("duration", "b"), el("span", {}, "duration"))),
    el("table", {class: "phases"},
      el("thead", {}, el("tr", {}, el("th", {}, "Phase"), el("th", {class: "num"}, "Drawn A"),
                                   el("th", {class: "num"}, "Volts"), el("th", {}, ""))),
      f("phases", "tbody")),
    el("dl", {},
      el("dt", {}, "Offered"), f("offered", "dd"),
      el("dt", {}, "Limit"), f("limit", "dd"),
      el("dt", {}, "Token"), f("token", "dd")),
    f("curve-box", "div"),
    f("controls", "div"),
    f("bench", "div"),
  );
  $("#connectors").append(c);
  state.cards[id] = c;
  buildControls(c, id);
  return c;
}

function field(c, name) { return c.querySelector(`[data-f="${name}"]`); }

function renderEvse(e) {
  const c = card(e.connector);
  const page = e.page;
  c.dataset.state = page.state.title;
  c.dataset.iec = e.iec_state || "";
  c.dataset.transaction = e.transaction ? e.transaction.id : "";
  c.dataset.paused = String(page.paused);
  c.dataset.operative = String(e.operative);
  const iec = field(c, "iec");
  iec.textContent = e.iec_state ? `IEC ${e.iec_state}` : "IEC ?";
  iec.title = "IEC 61851 control-pilot state";
  field(c, "title").textContent = page.state.title;
  field(c, "title").className = `status tone-${page.state.tone}`;
  field(c, "detail").textContent = page.state.detail;

  const faults = field(c, "faults");
  faults.replaceChildren(...page.faults.map((f) => el("div", {class: f.stops ? "fault" : "fault warning", dataset: {kind: f.kind}},
    el("b", {}, f.title), el("p", {}, f.what), el("p", {}, el("strong", {}, "What to do: "), f.todo))));

  const notice = field(c, "notice");
  notice.textContent = page.notice || "";
  notice.hidden = !page.notice;

  const m = e.meter;
  field(c, "power").textContent = m && !page.meter_offline ? kw(m.power_w) : "–";  // a stale number would mislead
  field(c, "energy").textContent = e.transaction ? kwh(e.transaction.energy_wh) : "–";
  c.dataset.started = e.transaction ? e.transaction.started_at : "";
  tickDuration(c);

  const rows = [];
  const fresh = m && !page.meter_offline ? m : null;
  for (let i = 0; i < page.phases; i++) {
    const a = fresh ? fresh.current_a[i] : null;
    const v = fresh ? fresh.voltage_v[i] : null;
    const max = Math.max(page.max_current_a, 1);
    const bar = el("div", {class: "bar"}, el("i", {style: `width:${Math.min(100, (a || 0) / max * 100)}%`}),
                   el("u", {style: `left:${Math.min(100, (e.offered_a || 0) / max * 100)}%`}));
    rows.push(el("tr", {}, el("td", {}, `L${i + 1}`), el("td", {class: "num"}, fmt(a)), el("td", {class: "num"}, fmt(v, 0)),
                 el("td", {}, bar)));
  }
  field(c, "phases").replaceChildren(...rows);
  field(c, "offered").textContent = e.offered_a > 0 ? `${fmt(e.offered_a)} A per phase` : "nothing (pilot without PWM)";
  field(c, "limit").textContent = page.limit ? `${fmt(page.limit.amps)} A, set by ${page.limit.by}` : "–";
  field(c, "token").textContent = e.transaction ? (e.transaction.token ? e.transaction.token.id || "free charging" : "–") : "–";

  renderCurve(c, e);
  updateControls(c, e);
  renderBench(c, e);
}

function tickDuration(c) {
  const started = c.dataset.started;
  field(c, "duration").textContent = started
    ? duration((Date.now() + state.offsetMs - Date.parse(started)) / 1000) : "–";
}

async function renderCurve(c, e) {
  const box = field(c, "curve-box");
  const info = e.page.curve;
  if (!info) {
    box.replaceChildren();
    return;
  }
  let svg = box.querySelector("svg");
  if (!svg || svg.dataset.transaction !== info.transaction) {
    svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", "0 0 600 220");
    svg.dataset.transaction = info.transaction;
    box.replaceChildren(el("h3", {}, "This session"), svg);
  }
  const have = state.curves[info.transaction];
  if (have && have.t.length === info.points) return;
  if (have && info.last && have.t.length === info.points - 1) {
    have.t.push(info.last.t);
    have.power_w.push(info.last.power_w);
    have.current_a.push(info.last.current_a);
  } else {
    const got = await act("GET", `/api/sessions/${encodeURIComponent(info.transaction)}/curve`);
    if (!got) return;
    state.curves[info.transaction] = got;
  }
  drawCurve(svg, state.curves[info.transaction]);
}

// ---- controls -------------------------------------------------------------------------------

function buildControls(c, id) {
  const box = field(c, "controls");
  const base = `/api/connectors/${id}`;
  const card = el("input", {type: "text", maxlength: "36", placeholder: "card id", "aria-label": "card id",
                            dataset: {input: "card"}});
  card.value = localStorage.getItem("evsed-card") || "";
  const start = el("button", {class: "primary", dataset: {action: "start"}}, "Start charging");
  const stop = el("button", {class: "danger", dataset: {action: "stop"}}, "Stop");
  const pause = el("button", {dataset: {action: "pause"}}, "Pause");
  const amps = el("input", {type: "number", min: "0", step: "1", "aria-label": "maximum current (A)", dataset: {input: "amps"}});
  const setAmps = el("button", {dataset: {action: "max-current"}}, "Set max A");
  const avail = el("button", {dataset: {action: "availability"}}, "Make unavailable");
  start.onclick = () => {
    localStorage.setItem("evsed-card", card.value);
    act("POST", `${base}/start`, {token: card.value});
  };
  stop.onclick = () => act("POST", `${base}/stop`, {});
  pause.onclick = () => act("POST", `${base}/pause`, {paused: c.dataset.paused !== "true"});
  setAmps.onclick = () => {
    const value = amps.value === "" ? null : Number(amps.value);
    act("POST", `${base}/max-current`, {amps: value});
  };
  avail.onclick = () => act("POST", `${base}/availability`, {operative: c.dataset.operative !== "true"});
  const rows = [el("h3", {}, "Control"),
    el("div", {class: "controls"}, card, start),
    el("div", {class: "controls"}, stop, pause),
    el("div", {class: "controls"}, el("label", {}, "Max current ", amps), setAmps, avail)];
  if (state.energy && state.energy.solar) {
    const mode = el("select", {"aria-label": "charging mode", dataset: {input: "mode"}},
      ...state.energy.modes.map((m) => el("option", {value: m.mode, title: m.detail}, m.title)));
    const explain = el("div", {class: "muted", dataset: {f: "mode-detail"}});
    mode.onchange = () => act("POST", "/api/energy/mode", {connector: id, mode: mode.value}, "Charging mode set");
    rows.push(el("div", {class: "controls"}, el("label", {}, "Charging mode ", mode)), explain);
  }
  box.replaceChildren(...rows);
}

function updateControls(c, e) {
  const running = Boolean(e.transaction);
  const q = (a) => c.querySelector(`[data-action="${a}"]`);
  q("start").disabled = running || !e.operative;
  q("stop").disabled = !running;
  q("pause").disabled = !running;
  q("pause").textContent = e.page.paused ? "Resume" : "Pause";
  q("availability").textContent = e.operative ? "Make unavailable" : "Make available";
  const amps = c.querySelector('[data-input="amps"]');
  amps.max = String(e.page.max_current_a);
  amps.placeholder = `${e.page.max_current_a}`;
  if (document.activeElement !== amps) amps.value = e.page.setting_a === null ? "" : String(e.page.setting_a);
  const mode = c.querySelector('[data-input="mode"]');
  if (mode && e.page.energy) {
    if (document.activeElement !== mode) mode.value = e.page.energy.mode;
    const chosen = state.energy.modes.find((m) => m.mode === e.page.energy.mode);
    c.querySelector('[data-f="mode-detail"]').textContent = chosen ? chosen.detail : "";
  }
}

function renderBench(c, e) {
  const box = field(c, "bench");
  if (!state.sim || !e.ev) {
    box.replaceChildren();
    return;
  }
  if (!box.dataset.built) {
    box.dataset.built = "1";
    box.className = "bench";
    const id = e.connector;
    const post = (path, body, done) => act("POST", `/api/sim/${path}`, {connector: id, ...body}, done);
    const tag = el("input", {type: "text", value: "DEMO-TAG-1", "aria-label": "card id", dataset: {input: "tag"}});
    const faults = el("div", {class: "controls"});
    for (const kind of state.sim.faults) {
      const box2 = el("input", {type: "checkbox", dataset: {fault: kind}});
      box2.onchange = async () => {
        box2.dataset.want = box2.checked ? "on" : "off";  // until a frame shows it: one sent before the click may come
        if ((await post("fault", {kind, active: box2.checked})) === null) delete box2.dataset.want;
      };
      faults.append(el("label", {}, box2, ` ${kind}`));
    }
    const b = (label, action, fn) => {
      const button = el("button", {dataset: {bench: action}}, label);
      button.onclick = fn;
      return button;
    };
    box.append(el("h3", {}, "Simulated car (bench)"),
      el("div", {class: "controls"},
        b("Plug in", "plug-in", () => post("plug-in", {})),
        b("Unplug", "unplug", () => post("unplug", {})),
        b("Car pauses", "ev-pause", () => post("ev", {action: "pause"})),
        b("Car resumes", "ev-resume", () => post("ev", {action: "resume"}))),
      el("div", {class: "controls"}, tag, b("Swipe card", "swipe", () => act("POST", "/api/sim/swipe", {id_tag: tag.value}))),
      el("div", {class: "muted"}, "Faults:"), faults,
      el("div", {class: "muted", dataset: {f: "ev"}}));
  }
  const ev = e.ev;
  for (const input of box.querySelectorAll("[data-fault]")) {
    const on = ev.faults.includes(input.dataset.fault);
    if (input.dataset.want && (input.dataset.want === "on") !== on) continue;  // a frame from before the click
    delete input.dataset.want;
    input.checked = on;
  }
  const car = ev.ev;
  box.querySelector('[data-f="ev"]').textContent = car
    ? `Car: plugged in, state ${ev.cp_state}, battery ${fmt((car.soc || 0) * 100, 0)} %`
    : "Car: not plugged in";
}

// ---- the feed -------------------------------------------------------------------------------

function connectFeed() {
  const pill = $("#feed-state");
  const source = new EventSource("/api/live");
  source.addEventListener("open", () => { pill.textContent = "live"; pill.className = "pill ok"; });
  source.addEventListener("error", () => {
    pill.textContent = "reconnecting";
    pill.className = "pill warn";
    // A network error is retried by the browser; an HTTP error (the daemon restarted and forgot
    // the session, say) closes the stream for good: ask again, which reloads to the login if so.
    if (source.readyState === EventSource.CLOSED) setTimeout(recoverFeed, 2000);
  });
  source.addEventListener("evse", (m) => renderEvse(JSON.parse(m.data)));
  source.addEventListener("station", (m) => renderStationSummary(JSON.parse(m.data)));
}

async function recoverFeed() {
  try {
    await api("GET", "/api/session");
    connectFeed();
  } catch (e) {
    setTimeout(recoverFeed, 5000);
  }
}

function renderStationSummary(s) {
  state.offsetMs = Date.parse(s.now) - Date.now();
  renderFirmware(s.firmware);
  $("#title").textContent = s.name;
  const pill = $("#link-state");
  const link = s.link;
  if (!link) {
    pill.textContent = "no backend configured";
    pill.className = "pill";
  } else {
    pill.textContent = `backend ${link.words}`;
    pill.className = `pill ${link.tone}`;
    pill.title = link.last_error || "";
  }
  pill.dataset.state = link ? link.state : "none";
}

// ---- sessions -------------------------------------------------------------------------------

const stopWords = (cause) => (cause ? state.stopWords[cause] || cause : "");

async function loadSessions() {
  const rows = await act("GET", "/api/sessions?limit=200");
  if (!rows) return;
  const body = $("#history tbody");
  body.replaceChildren(...rows.map((s) => {
    const tr = el("tr", {class: "clickable", dataset: {transaction: s.id}},
      el("td", {}, when(s.started_at)), el("td", {class: "wide"}, when(s.stopped_at)),
      el("td", {}, s.token ? s.token.id || "free charging" : "–"), el("td", {class: "num"}, kwh(s.energy_wh)),
      el("td", {}, s.stopped_at ? stopWords(s.stop_cause) : "running"));
    tr.onclick = () => openSession(s, tr);
    return tr;
  }));
  $("#history-empty").hidden = rows.length > 0;
}

async function openSession(s, tr) {
  for (const r of document.querySelectorAll("#history tr.selected")) r.classList.remove("selected");
  tr.classList.add("selected");
  const box = $("#session-detail");
  box.hidden = false;
  $("#session-title").textContent = `Session of ${when(s.started_at)}`;
  const curve = await act("GET", `/api/sessions/${encodeURIComponent(s.id)}/curve`);
  if (curve) drawCurve($("#session-chart"), curve);
  const facts = [["Connector", s.evse ?? "–"], ["Token", s.token ? s.token.id : "–"], ["Started", when(s.started_at)],
                 ["Stopped", when(s.stopped_at)], ["Energy", `${kwh(s.energy_wh)} kWh`],
                 ["Highest current", `${fmt(s.max_current_a)} A`], ["Why it stopped", s.stopped_at ? stopWords(s.stop_cause) : "running"],
                 ["Id", s.id]];
  $("#session-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, String(v))]));
  box.scrollIntoView({behavior: "smooth", block: "start"});
}

// ---- station --------------------------------------------------------------------------------

function facts(target, pairs) {
  $(target).replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v === null || v === undefined ? "–" : String(v))]));
}

async function loadStation() {
  const s = await act("GET", "/api/station");
  if (!s) return;
  const o = s.ocpp;
  facts("#ocpp", o ? [["State", o.words], ["URL", o.url], ["Security profile", o.security_profile_words],
                      ["Registration", o.registration], ["Last error", o.last_error_words || "none"],
                      ["Queued messages", o.queued]]
                   : [["Backend", "none configured ([ocpp] url)"]]);
  $("#reconnect").disabled = !o;
  facts("#time", [["Now (box)", when(s.time.now)], ["Source", s.time.source_words], ["Offset", s.time.offset_words]]);
  state.firmware = s.firmware;
  renderFirmware(s.firmware);
  facts("#meters", s.meters.flatMap((m) => [[`Connector ${m.connector}`, m.words]]));
  $("#config").textContent = s.config;
}

function renderFirmware(update) {
  const f = {...state.firmware, ...update};
  if (!f.version) return;  // the station tab has not been opened yet
  facts("#firmware", [["Version", f.version], ["Slot", f.slot || "not installed in slots"],
                      ["Trial", f.trial || "none"], ["Update", f.words]]);
  $("#firmware").dataset.status = f.status;
  const progress = $("#firmware-progress");
  progress.hidden = f.progress === null;
  if (f.progress !== null) progress.value = f.progress;
}

function uploadFirmware(event) {
  event.preventDefault();
  const form = event.target;
  const button = form.querySelector("button");
  const progress = $("#firmware-progress");
  const xhr = new XMLHttpRequest();  // fetch() cannot tell how far an upload is
  xhr.open("POST", "/api/firmware");
  if (state.csrf) xhr.setRequestHeader("X-CSRF-Token", state.csrf);
  xhr.upload.onprogress = (e) => {
    progress.hidden = false;
    progress.value = e.lengthComputable ? (e.loaded / e.total) * 15 : 5;  // the upload is the first 15 %
  };
  xhr.onloadend = () => {
    button.disabled = false;
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON: the status says enough */ }
    if (xhr.status === 202) {
      toast(body.words);
      form.reset();
    } else {
      toast(body.error || `upload failed (${xhr.status || "no answer"})`, true);
    }
    loadStation();
  };
  button.disabled = true;
  xhr.send(new FormData(form));
}

async function downloadDiagnostics() {
  const answer = await act("POST", "/api/diagnostics", {});
  if (!answer) return;
  const blob = await answer.blob();
  const name = (answer.headers.get("Content-Disposition") || "").split("filename=")[1] || "evsed-diagnostics.tar.gz";
  const a = el("a", {href: URL.createObjectURL(blob), download: name.replaceAll('"', "")});
  document.body.append(a);
  a.click();
  a.remove();
  toast("Diagnostics downloaded");
}

// ---- start ----------------------------------------------------------------------------------

async function main() {
  const me = await api("GET", "/api/session");
  state.csrf = me.csrf;
  state.password = me.password;
  state.sim = me.sim;
  state.stopWords = me.stop_words;
  state.energy = me.energy;
  $("#logout").hidden = !me.password;
  $("#logout").onclick = async () => {
    await act("POST", "/api/logout", {});
    location.reload();
  };
  for (const b of document.querySelectorAll("nav button")) b.onclick = () => showTab(b.dataset.tab);
  $("#reconnect").onclick = () => act("POST", "/api/ocpp/reconnect", {}, "Reconnecting to the backend");
  $("#diagnostics").onclick = downloadDiagnostics;
  $("#firmware-upload").onsubmit = uploadFirmware;
  setInterval(() => Object.values(state.cards).forEach(tickDuration), 1000);
  connectFeed();
}

main().catch((e) => toast(e.message, true));
