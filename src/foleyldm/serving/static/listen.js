// foleyldm listening test: one blinded item at a time; the server keeps each rater's order
// and ratings, so coming back with the same name resumes where they stopped.
"use strict";

const $ = (sel) => document.querySelector(sel);
const RATER_KEY = "foleyldm.rater";
const API_KEY = "foleyldm.apiKey";
let current = null; // the rater's state from the server

async function api(path, options = {}) {
  const key = localStorage.getItem(API_KEY);
  const headers = { ...(options.headers || {}), ...(key ? { "X-API-Key": key } : {}) };
  const res = await fetch(path, { ...options, headers });
  if (res.status === 401) $("#key-box").hidden = false;
  return res;
}

async function problem(res) {
  try {
    return `${res.status}: ${(await res.json()).detail}`;
  } catch (_) {
    return `${res.status}: ${res.statusText}`;
  }
}

async function show(state) {
  current = state;
  $("#start").hidden = true;
  $("#who").textContent = `rater: ${state.rater}`;
  if (!state.trial) {
    $("#trial").hidden = true;
    $("#finished").hidden = false;
    return;
  }
  $("#trial").hidden = false;
  // Take the previous item's audio away before showing the next item's number and prompt:
  // while the new clip downloads, nothing of the old one can be played (or rated as new).
  const audio = $("#stimulus");
  const go = $("#trial button.go");
  go.disabled = true;
  if (audio.src) URL.revokeObjectURL(audio.src);
  audio.removeAttribute("src");
  delete audio.dataset.stimulus;
  audio.load();
  $("#position").textContent = `Item ${state.done + 1} of ${state.total}`;
  $("#overall").value = state.total ? state.done / state.total : 0;
  $("#prompt").textContent = state.trial.prompt;
  for (const name of ["ovl", "rel"]) {
    $(`#${name}`).value = 50;
    $(`#${name}-value`).textContent = "50";
  }
  $("#trial .error").textContent = "";
  const res = await api(state.trial.audio_url);
  if (res.ok) {
    audio.dataset.stimulus = state.trial.stimulus_id;
    audio.src = URL.createObjectURL(await res.blob());
  } else $("#trial .error").textContent = await problem(res);
  go.disabled = false;
}

async function begin(rater) {
  const res = await api(`/api/listening/next?rater=${encodeURIComponent(rater)}`);
  if (res.status === 404) {
    $("#start").hidden = true;
    $("#unavailable").hidden = false;
    return;
  }
  if (!res.ok) {
    $("#start .error").textContent = await problem(res);
    return;
  }
  localStorage.setItem(RATER_KEY, rater);
  await show(await res.json());
}

async function submitRating() {
  const body = {
    rater: current.rater,
    stimulus_id: current.trial.stimulus_id,
    ovl: Number($("#ovl").value),
    rel: Number($("#rel").value),
  };
  const res = await api("/api/listening/rate", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    $("#trial .error").textContent = await problem(res);
    return;
  }
  await show(await res.json());
}

function start() {
  for (const name of ["ovl", "rel"]) {
    $(`#${name}`).addEventListener("input", (ev) => {
      $(`#${name}-value`).textContent = ev.target.value;
    });
  }
  $("#start").addEventListener("submit", (ev) => {
    ev.preventDefault();
    begin($("#rater").value.trim());
  });
  $("#trial").addEventListener("submit", (ev) => {
    ev.preventDefault();
    submitRating();
  });
  $("#api-key").value = localStorage.getItem(API_KEY) || "";
  $("#api-key").addEventListener("change", (ev) => localStorage.setItem(API_KEY, ev.target.value));
  const known = localStorage.getItem(RATER_KEY);
  if (known) {
    $("#rater").value = known;
    begin(known);
  }
}

start();
