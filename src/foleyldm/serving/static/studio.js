// foleyldm studio: a plain page over the public HTTP API (no build step, no libraries).
// Jobs are submitted, polled for progress and rendered as cards; the card list (job ids,
// titles, parameters) is kept in localStorage, the audio stays on the server until evicted.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
const HISTORY_KEY = "foleyldm.history.v1";
const API_KEY = "foleyldm.apiKey";
const HISTORY_MAX = 30;
const POLL_MS = 200;
const EDITS = { transfer: "style transfer", inpaint: "inpainting", upsample: "super-resolution", vary: "variation" };

const state = {
  info: null,
  input: null, // {blob, name, samples: Float32Array|null, duration: number|null}
  drag: null, // {x0, x1} in canvas pixels while selecting
};

// ---- API ---------------------------------------------------------------------------------
function authHeaders(extra = {}) {
  const key = localStorage.getItem(API_KEY);
  return key ? { ...extra, "X-API-Key": key } : extra;
}

async function api(path, options = {}) {
  const res = await fetch(path, { ...options, headers: authHeaders(options.headers || {}) });
  if (res.status === 401) $("#key-box").hidden = false;
  return res;
}

async function problem(res) {
  let detail = res.statusText;
  try {
    detail = (await res.json()).detail || detail;
  } catch (_) { /* not JSON */ }
  const retry = res.headers.get("Retry-After");
  return `${res.status}: ${detail}${retry ? ` (retry in ${retry} s)` : ""}`;
}

async function fetchBlob(url) {
  const res = await api(url);
  if (!res.ok) throw new Error(await problem(res));
  return res.blob();
}

// ---- server info and health --------------------------------------------------------------
async function loadInfo() {
  const res = await api("/api/info");
  if (!res.ok) {
    $("#model").textContent = res.status === 401 ? "enter the API key" : await problem(res);
    return;
  }
  const info = (state.info = await res.json());
  const d = info.defaults;
  $("#model").textContent = `model ${info.model ?? "?"} · ${info.sample_rate / 1000} kHz`;
  $("#listen-link").hidden = !info.listening_test;
  for (const select of $$("select[name=sampler]")) {
    select.length = 1;
    select.options[0].textContent = `default (${d.sampler})`;
    for (const [name, text] of Object.entries(info.samplers)) select.add(new Option(name, name));
    select.title = "";
    select.addEventListener("change", () => {
      select.title = info.samplers[select.value] || "";
    });
  }
  for (const input of $$("[name=num_inference_steps]")) input.placeholder = d.num_inference_steps;
  for (const input of $$("[name=guidance_scale]")) input.placeholder = d.guidance_scale;
  for (const input of $$("[name=negative_prompt]")) input.placeholder = d.negative_prompt || "(none)";
  $("#form-generate [name=audio_length_in_s]").placeholder = d.audio_length_in_s;
}

async function health() {
  try {
    const res = await fetch("/health");
    const h = await res.json();
    $("#health").textContent = `${h.status} · queue ${h.queue_active}/${h.queue_capacity}`;
    $("#health").className = h.status === "ok" ? "ok" : "bad";
  } catch (_) {
    $("#health").textContent = "server unreachable";
    $("#health").className = "bad";
  }
}

// ---- tabs and forms ----------------------------------------------------------------------
function showTab(name) {
  for (const b of $$("[role=tab]")) b.setAttribute("aria-selected", String(b.dataset.tab === name));
  for (const f of $$("form.panel")) f.hidden = f.dataset.endpoint !== name;
  $("#input-panel").hidden = name === "generate";
  $("#wave-hint").hidden = name !== "inpaint";
  drawWave();
}

function currentTab() {
  return $("[role=tab][aria-selected=true]").dataset.tab;
}

function collect(form) {
  const values = {};
  for (const el of form.elements) {
    if (!el.name || el.value.trim() === "") continue;
    values[el.name] = el.type === "number" ? Number(el.value) : el.value.trim();
  }
  return values;
}

async function submit(form) {
  const endpoint = form.dataset.endpoint;
  const error = $(".error", form);
  error.textContent = "";
  const values = collect(form);
  let res;
  try {
    if (endpoint === "generate") {
      res = await api("/api/generate", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(values),
      });
    } else {
      if (!state.input) {
        error.textContent = "choose an input clip first";
        return;
      }
      const body = new FormData();
      body.append("file", state.input.blob, state.input.name);
      for (const [k, v] of Object.entries(values)) body.append(k, String(v));
      res = await api(`/api/${endpoint}`, { method: "POST", body });
    }
  } catch (e) {
    error.textContent = `server unreachable (${e.message})`;
    return;
  }
  if (res.status !== 202) {
    error.textContent = await problem(res);
    return;
  }
  const job = await res.json();
  const title = values.prompt || (state.input && endpoint !== "generate" ? state.input.name : "");
  const entry = { id: job.id, kind: endpoint, title, created: Date.now() };
  saveHistory([entry, ...loadHistory()]);
  const card = addCard(entry, true);
  update(card, job);
  schedule(card);
}

// ---- history -----------------------------------------------------------------------------
function loadHistory() {
  try {
    const items = JSON.parse(localStorage.getItem(HISTORY_KEY) || "[]");
    return Array.isArray(items) ? items : [];
  } catch (_) {
    return [];
  }
}

function saveHistory(items) {
  localStorage.setItem(HISTORY_KEY, JSON.stringify(items.slice(0, HISTORY_MAX)));
  $("#empty").hidden = items.length > 0;
}

function forget(id) {
  saveHistory(loadHistory().filter((e) => e.id !== id));
}

// ---- job cards ---------------------------------------------------------------------------
function addCard(entry, atTop) {
  const card = $("#job-card").content.firstElementChild.cloneNode(true);
  card.dataset.id = entry.id;
  $(".kind", card).textContent = entry.kind === "generate" ? "generate" : EDITS[entry.kind];
  $(".title", card).textContent = entry.title || "";
  const when = new Date(entry.created);
  $("time", card).dateTime = when.toISOString();
  $("time", card).textContent = when.toLocaleTimeString();
  $(".cancel", card).addEventListener("click", async () => {
    const res = await api(`/api/jobs/${entry.id}`, { method: "DELETE" });
    if (res.ok) update(card, await res.json());
  });
  $(".remove", card).addEventListener("click", () => {
    forget(entry.id);
    card.remove();
  });
  const list = $("#results");
  if (atTop) list.prepend(card);
  else list.append(card);
  $("#empty").hidden = true;
  return card;
}

function update(card, job) {
  const bar = $("progress", card);
  bar.max = 1;
  bar.value = job.total > 0 ? job.step / job.total : job.state === "done" ? 1 : 0;
  let text = job.state;
  if (job.state === "queued") text = `queued (${job.queue_position ?? 0} ahead)`;
  if (job.state === "running") text = job.total ? `step ${job.step} / ${job.total}` : "starting";
  if (job.state === "running" && job.cancel_requested) text = "cancelling…";
  if (job.state === "failed") text = `failed: ${job.error}`;
  $(".status", card).textContent = text;
  card.dataset.state = job.state;
  $(".cancel", card).hidden = !["queued", "running"].includes(job.state);
  $(".params", card).textContent = JSON.stringify(job.params, null, 2);
}

function schedule(card, delay = POLL_MS) {
  setTimeout(() => poll(card), delay);
}

async function poll(card) {
  if (!card.isConnected) return;
  let res;
  try {
    res = await api(`/api/jobs/${card.dataset.id}`);
  } catch (_) {
    $(".status", card).textContent = "server unreachable; retrying";
    schedule(card, 2000);
    return;
  }
  if (res.status === 404) {
    card.dataset.state = "expired";
    $(".status", card).textContent = "expired: the server no longer holds this result";
    $(".cancel", card).hidden = true;
    return;
  }
  if (!res.ok) {
    $(".status", card).textContent = await problem(res);
    schedule(card, 2000);
    return;
  }
  const job = await res.json();
  update(card, job);
  if (job.state === "queued" || job.state === "running") schedule(card);
  else if (job.state === "done") await showClips(card, job);
}

async function showClips(card, job) {
  const box = $(".clips", card);
  box.replaceChildren();
  for (const clip of job.clips) {
    const fig = $("#clip").content.firstElementChild.cloneNode(true);
    box.append(fig);
    const base = `foleyldm-${job.id.slice(0, 8)}-${clip.index}`;
    let meta = `${clip.duration_s.toFixed(2)} s · ${clip.sample_rate / 1000} kHz`;
    if (clip.score !== null) meta += ` · CLAP ${clip.score.toFixed(3)}`;
    if (clip.info.cutoff_hz) meta += ` · cutoff ${Math.round(clip.info.cutoff_hz)} Hz`;
    if (clip.info.regenerated) meta += ` · regenerated ${clip.info.regenerated.map((r) => r.map((t) => t.toFixed(2)).join("–")).join(", ")} s`;
    $(".meta", fig).textContent = meta;
    try {
      const [audio, png] = await Promise.all([fetchBlob(clip.audio_url), fetchBlob(clip.spectrogram_url)]);
      const audioUrl = URL.createObjectURL(audio);
      $("audio", fig).src = audioUrl;
      $("img", fig).src = URL.createObjectURL(png);
      const wav = $("a.wav", fig);
      wav.href = audioUrl;
      wav.download = `${base}.wav`;
      $("a.flac", fig).addEventListener("click", async (ev) => {
        ev.preventDefault();
        const blob = await fetchBlob(`${clip.audio_url}?format=flac`);
        const a = document.createElement("a");
        a.href = URL.createObjectURL(blob);
        a.download = `${base}.flac`;
        a.click();
      });
      for (const b of $$("[data-edit]", fig)) {
        b.addEventListener("click", () => {
          setInput(audio, `${base}.wav`);
          showTab(b.dataset.edit);
          $("#compose").scrollIntoView({ behavior: "smooth" });
        });
      }
    } catch (e) {
      $(".meta", fig).textContent = `${meta} · ${e.message}`;
    }
  }
}

// ---- the input clip and its waveform -----------------------------------------------------
async function setInput(blob, name) {
  state.input = { blob, name, samples: null, duration: null };
  $("#input-name").textContent = name;
  try {
    const ctx = new OfflineAudioContext(1, 1, 16000);
    const buffer = await ctx.decodeAudioData(await blob.arrayBuffer());
    state.input.samples = buffer.getChannelData(0);
    state.input.duration = buffer.duration;
    $("#input-name").textContent = `${name} · ${buffer.duration.toFixed(2)} s`;
  } catch (_) {
    $("#input-name").textContent = `${name} · (the browser cannot draw this format; type ranges)`;
  }
  drawWave();
}

function parseRanges(text) {
  const out = [];
  for (const part of text.split(",")) {
    const m = part.match(/^\s*(\d*\.?\d+)\s*-\s*(\d*\.?\d+)\s*$/);
    if (m && Number(m[1]) < Number(m[2])) out.push([Number(m[1]), Number(m[2])]);
  }
  return out;
}

function formatRanges(ranges) {
  return ranges.map(([a, b]) => `${a.toFixed(2)}-${b.toFixed(2)}`).join(", ");
}

function drawWave() {
  const canvas = $("#waveform");
  if (canvas.offsetParent === null) return; // hidden
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.max(1, Math.round(canvas.clientWidth * dpr));
  canvas.height = Math.round(96 * dpr);
  const g = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  g.clearRect(0, 0, w, h);
  const input = state.input;
  if (!input || !input.samples) return;
  const x = input.samples;
  const per = Math.max(1, Math.floor(x.length / w));
  let peak = 1e-9;
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]));
  g.fillStyle = "#5b8def";
  for (let px = 0; px < w; px++) {
    let lo = 0;
    let hi = 0;
    for (let i = px * per; i < Math.min(x.length, (px + 1) * per); i++) {
      lo = Math.min(lo, x[i]);
      hi = Math.max(hi, x[i]);
    }
    const y0 = h / 2 - (hi / peak) * (h / 2 - 2);
    const y1 = h / 2 - (lo / peak) * (h / 2 - 2);
    g.fillRect(px, y0, 1, Math.max(1, y1 - y0));
  }
  if (currentTab() !== "inpaint") return;
  g.fillStyle = "rgba(240, 120, 60, 0.35)";
  const toPx = (t) => (t / input.duration) * w;
  for (const [a, b] of parseRanges($("#ranges").value)) g.fillRect(toPx(a), 0, toPx(b) - toPx(a), h);
  if (state.drag) {
    const [a, b] = [state.drag.x0, state.drag.x1].sort((p, q) => p - q);
    g.fillRect(a * dpr, 0, (b - a) * dpr, h);
  }
}

function waveSeconds(ev) {
  const rect = $("#waveform").getBoundingClientRect();
  const frac = Math.min(1, Math.max(0, (ev.clientX - rect.left) / rect.width));
  return { px: frac * rect.width, t: frac * state.input.duration };
}

function setupWaveform() {
  const canvas = $("#waveform");
  canvas.addEventListener("pointerdown", (ev) => {
    if (currentTab() !== "inpaint" || !state.input || !state.input.duration) return;
    const { px, t } = waveSeconds(ev);
    state.drag = { x0: px, x1: px, t0: t, t1: t };
    canvas.setPointerCapture(ev.pointerId);
  });
  canvas.addEventListener("pointermove", (ev) => {
    if (!state.drag) return;
    const { px, t } = waveSeconds(ev);
    Object.assign(state.drag, { x1: px, t1: t });
    drawWave();
  });
  canvas.addEventListener("pointerup", () => {
    const d = state.drag;
    state.drag = null;
    if (!d) return;
    const [a, b] = [d.t0, d.t1].sort((p, q) => p - q);
    if (b - a >= 0.01) {
      const ranges = [...parseRanges($("#ranges").value), [a, b]].sort((p, q) => p[0] - q[0]);
      const merged = [];
      for (const r of ranges) {
        const last = merged[merged.length - 1];
        if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
        else merged.push([...r]);
      }
      $("#ranges").value = formatRanges(merged);
    }
    drawWave();
  });
  $("#ranges").addEventListener("input", drawWave);
  $("#clear-ranges").addEventListener("click", () => {
    $("#ranges").value = "";
    drawWave();
  });
  window.addEventListener("resize", drawWave);
}

// ---- start -------------------------------------------------------------------------------
function start() {
  const fields = $("#sampling-fields");
  for (const box of $$(".sampling")) box.replaceWith(fields.content.cloneNode(true));
  for (const tab of $$("[role=tab]")) tab.addEventListener("click", () => showTab(tab.dataset.tab));
  for (const form of $$("form.panel")) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit(form);
    });
  }
  $("#input-file").addEventListener("change", (ev) => {
    const file = ev.target.files[0];
    if (file) setInput(file, file.name);
  });
  $("#api-key").value = localStorage.getItem(API_KEY) || "";
  $("#api-key").addEventListener("change", (ev) => {
    localStorage.setItem(API_KEY, ev.target.value);
    loadInfo();
    for (const card of $$(".job")) if (!card.dataset.state || card.dataset.state === "queued") poll(card);
  });
  $("#clear-history").addEventListener("click", () => {
    saveHistory([]);
    $("#results").replaceChildren();
  });
  setupWaveform();
  const history = loadHistory();
  $("#empty").hidden = history.length > 0;
  for (const entry of history) poll(addCard(entry, false));
  loadInfo();
  health();
  setInterval(health, 5000);
}

start();
