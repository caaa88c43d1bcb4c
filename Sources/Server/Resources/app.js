// TGDM Studio: plain script, no dependencies. Talks to the JSON API of `tgdm serve` (docs/openapi.yaml).
"use strict";

const $ = (id) => document.getElementById(id);
const state = { driver: "image", source: "source", drivingImage: "driving", drivingVideo: "driving_video", current: null, events: null };

// ---- API helpers -------------------------------------------------------------------------------------------

class ApiError extends Error {}

async function api(path, init) {
  const r = await fetch(path, Object.assign({ credentials: "same-origin" }, init || {}));
  if (r.status === 401) { $("token-form").classList.remove("hidden"); }
  if (r.status === 204) return null;
  let body = null;
  try { body = await r.json(); } catch (e) { body = null; }
  if (!r.ok) throw new ApiError((body && body.error) || `HTTP ${r.status}`);
  return body;
}

function el(tag, attrs, children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "text") e.textContent = v; else e.setAttribute(k, v);
  }
  for (const c of children || []) e.appendChild(c);
  return e;
}

// ---- samples -----------------------------------------------------------------------------------------------

function gallery(container, samples, selected, onPick) {
  container.textContent = "";
  for (const s of samples) {
    const media = s.kind === "video"
      ? el("video", { src: `/v1/samples/${encodeURIComponent(s.name)}`, muted: "", loop: "", playsinline: "", preload: "metadata" })
      : el("img", { src: `/v1/samples/${encodeURIComponent(s.name)}`, alt: s.name, loading: "lazy" });
    const b = el("button", { type: "button", role: "radio", class: "sample", "data-sample": s.name, title: s.name },
                 [media, el("span", { text: s.name })]);
    b.setAttribute("aria-checked", String(s.name === selected));
    b.addEventListener("click", () => {
      for (const o of container.querySelectorAll(".sample")) o.setAttribute("aria-checked", "false");
      b.setAttribute("aria-checked", "true");
      onPick(s.name);
    });
    container.appendChild(b);
  }
}

async function loadSamples() {
  const { samples } = await api("/v1/samples");
  const images = samples.filter((s) => s.kind === "image"), videos = samples.filter((s) => s.kind === "video");
  if (!images.some((s) => s.name === state.source)) state.source = images.length ? images[0].name : null;
  if (!images.some((s) => s.name === state.drivingImage)) state.drivingImage = images.length ? images[0].name : null;
  if (!videos.some((s) => s.name === state.drivingVideo)) state.drivingVideo = videos.length ? videos[0].name : null;
  gallery($("source-samples"), images, state.source, (n) => { state.source = n; $("source-file").value = ""; });
  gallery($("driving-image-samples"), images, state.drivingImage, (n) => { state.drivingImage = n; $("driving-image-file").value = ""; });
  gallery($("driving-video-samples"), videos, state.drivingVideo, (n) => { state.drivingVideo = n; $("driving-video-file").value = ""; });
}

// ---- the form ----------------------------------------------------------------------------------------------

function selectDriver(d) {
  state.driver = d;
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.dataset.driver === d);
  for (const p of document.querySelectorAll(".driver")) p.classList.toggle("hidden", p.dataset.for !== d);
  $("emotion-section").classList.toggle("dim", d === "image" || d === "video");
}

function buildRequest() {
  const form = new FormData();
  const o = { driver: state.driver, seed: Number($("seed").value || 0), size: Number($("size").value || 256) };
  if ($("steps").value) o.steps = Number($("steps").value);
  const sourceFile = $("source-file").files[0];
  if (sourceFile) form.append("source", sourceFile, sourceFile.name); else if (state.source) o.source_sample = state.source;
  if (state.driver === "image") {
    const f = $("driving-image-file").files[0];
    if (f) form.append("driving", f, f.name); else if (state.drivingImage) o.driving_sample = state.drivingImage;
  } else if (state.driver === "video") {
    const f = $("driving-video-file").files[0];
    if (f) form.append("driving", f, f.name); else if (state.drivingVideo) o.driving_sample = state.drivingVideo;
    if ($("max-frames").value) o.max_frames = Number($("max-frames").value);
  } else {
    o.emotion = $("emotion").value || "neutral";
    o.intensity = Number($("intensity").value);
    if (state.driver === "audio") {
      const f = $("driving-audio-file").files[0];
      if (f) form.append("driving", f, f.name);
    } else {
      o.text = $("speech-text").value;
    }
  }
  form.append("options", new Blob([JSON.stringify(o)], { type: "application/json" }), "options.json");
  return form;
}

async function submitJob(ev) {
  ev.preventDefault();
  $("form-error").textContent = "";
  $("generate").disabled = true;
  try {
    const job = await api("/v1/jobs", { method: "POST", body: buildRequest() });
    showJob(job);
    refreshJobs();
  } catch (e) {
    $("form-error").textContent = `error: ${e.message}`;
  } finally {
    $("generate").disabled = false;
  }
}

// ---- the current job ---------------------------------------------------------------------------------------

function fmtSeconds(s) {
  if (s == null) return "";
  if (s < 60) return `${Math.round(s)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function render(job) {
  state.current = job;
  $("job-empty").classList.add("hidden");
  $("job-view").classList.remove("hidden");
  const badge = $("job-state");
  badge.textContent = job.state;
  badge.className = `badge ${job.state}`;
  const p = job.progress;
  $("job-stage").textContent = p && !["succeeded", "failed", "cancelled"].includes(job.state) ? p.stage : "";
  $("job-progress").value = job.state === "succeeded" ? 1 : (p ? p.fraction : 0);
  let frames = "";
  if (p && p.frames_total) frames = `frames ${p.frames_done} / ${p.frames_total}`;
  if (p && p.steps && job.state === "running") frames += ` · step ${p.step} / ${p.steps}`;
  if (p && p.eta_seconds != null && job.state === "running") frames += ` · ETA ${fmtSeconds(p.eta_seconds)}`;
  $("job-frames").textContent = frames;
  $("job-error").textContent = job.state === "failed" ? `error: ${job.error}` : (job.state === "cancelled" ? "cancelled" : "");
  const active = job.state === "queued" || job.state === "running";
  $("cancel").classList.toggle("hidden", !active);
  $("cancel").disabled = !!job.cancel_requested;
  const result = $("result"), dl = $("download");
  if (job.state === "succeeded" && job.result) {
    const url = `/v1/jobs/${job.id}/result`;
    if (result.dataset.job !== job.id) {
      result.textContent = "";
      result.dataset.job = job.id;
      result.appendChild(job.result.media_type.startsWith("video/")
        ? el("video", { id: "result-media", src: url, controls: "", autoplay: "", playsinline: "" })
        : el("img", { id: "result-media", src: url, alt: "generated result" }));
    }
    dl.href = `${url}?download=1`;
    dl.classList.remove("hidden");
  } else {
    result.textContent = "";
    delete result.dataset.job;
    dl.classList.add("hidden");
  }
}

function showJob(job) {
  if (state.events) { state.events.close(); state.events = null; }
  render(job);
  if (job.state === "queued" || job.state === "running") follow(job.id);
}

// Live progress by server-sent events (the cookie carries the token when there is one).
function follow(id) {
  const es = new EventSource(`/v1/jobs/${id}/events`);
  state.events = es;
  es.addEventListener("job", (e) => {
    const job = JSON.parse(e.data);
    if (!state.current || state.current.id === job.id) render(job);
    if (["succeeded", "failed", "cancelled"].includes(job.state)) refreshJobs();
  });
  es.addEventListener("end", () => { es.close(); if (state.events === es) state.events = null; });
  es.onerror = () => { es.close(); if (state.events === es) state.events = null; };
}

async function cancelCurrent() {
  if (!state.current) return;
  try {
    const r = await api(`/v1/jobs/${state.current.id}`, { method: "DELETE" });
    if (r) render(r);
  } catch (e) { $("job-error").textContent = `error: ${e.message}`; }
}

// ---- earlier jobs ------------------------------------------------------------------------------------------

function describe(job) {
  const o = job.options, i = job.inputs || {};
  const what = o.driver === "text" ? `“${(o.text || "").slice(0, 40)}”` : (i.driving || o.driver);
  return `${o.driver} · ${what}${o.driver === "audio" || o.driver === "text" ? ` · ${o.emotion} ×${o.intensity}` : ""}`;
}

async function refreshJobs() {
  let jobs;
  try { ({ jobs } = await api("/v1/jobs?limit=50")); } catch (e) { return; }
  const list = $("jobs");
  list.textContent = "";
  for (const j of jobs) {
    const thumb = j.result && j.result.has_thumbnail
      ? el("img", { src: `/v1/jobs/${j.id}/thumbnail`, alt: "", loading: "lazy" })
      : el("div", { class: "thumb-empty", text: j.state === "running" ? "…" : "–" });
    const del = el("button", { type: "button", class: "link", title: "remove", text: "✕" });
    del.addEventListener("click", async (ev) => {
      ev.stopPropagation();
      try { await api(`/v1/jobs/${j.id}`, { method: "DELETE" }); } catch (e) { /* shown by the next refresh */ }
      refreshJobs();
    });
    const item = el("li", { class: `job ${j.state}`, "data-job": j.id }, [
      thumb,
      el("div", { class: "job-text" }, [
        el("div", { text: describe(j) }),
        el("div", { class: "muted", text: `${j.state} · ${new Date(j.created).toLocaleString()}` }),
      ]),
      del,
    ]);
    item.addEventListener("click", () => showJob(j));
    list.appendChild(item);
  }
}

// ---- start ---------------------------------------------------------------------------------------------------

function init() {
  for (const t of document.querySelectorAll(".tab")) t.addEventListener("click", () => selectDriver(t.dataset.driver));
  $("intensity").addEventListener("input", () => { $("intensity-value").textContent = Number($("intensity").value).toFixed(1); });
  $("job-form").addEventListener("submit", submitJob);
  $("cancel").addEventListener("click", cancelCurrent);
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    document.cookie = `tgdm_token=${encodeURIComponent($("token").value)}; path=/; SameSite=Strict`;
    $("token-form").classList.add("hidden");
    start();
  });
  selectDriver("image");
  start();
  setInterval(() => { if (!state.events) refreshJobs(); }, 10000);
}

function start() {
  loadSamples().catch((e) => { $("form-error").textContent = `error: ${e.message}`; });
  refreshJobs();
}

document.addEventListener("DOMContentLoaded", init);
