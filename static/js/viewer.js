// The DICOM viewer page: stacks of server-rendered frames on a canvas, window/level, zoom/pan,
// calipers and bidirectional measurements saved through the API, two synced viewports.
// Plain JavaScript, no dependencies. The server renders every frame (imaging.render) at the
// window asked for; this script only caches, draws and measures in image pixel coordinates.

const config = JSON.parse(document.getElementById("viewer-config").textContent);

// ---------------------------------------------------------------- HTTP helpers

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

async function getJSON(url) {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${response.status} ${url}`);
  return response.json();
}

async function getAll(url) {
  // Follows the LimitOffset pagination of list endpoints.
  const out = [];
  let next = url;
  while (next) {
    const page = await getJSON(next);
    if (Array.isArray(page)) return page;
    out.push(...page.results);
    next = page.next;
  }
  return out;
}

async function send(method, url, body) {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const detail = data && (data.detail || Object.values(data).flat().join(" "));
    throw new Error(detail || `${response.status}`);
  }
  return data;
}

// ---------------------------------------------------------------- frame cache

// Encoded frames (PNG blobs) are kept for whole series (small); decoded bitmaps only for the
// few slices around each viewport's position (large). A frame that was prefetched is drawn
// from memory: the server is never waited on for it.
const BLOB_BUDGET = 400 * 1024 * 1024;
const BITMAP_LIMIT = 48;
const MAX_IN_FLIGHT = 4;

class FrameCache {
  constructor() {
    this.entries = new Map(); // url -> {blob, headers, promise, bitmap, bitmapPromise, bytes}
    this.bytes = 0;
    this.bitmaps = [];
    this.inFlight = 0;
    this.sources = new Set(); // viewports that want frames, asked in turn
    this.failed = new Set(); // urls the server refused (e.g. undecodable pixel data): not retried
    this.stats = { fetched: 0, hits: 0, misses: 0 };
  }

  has(url) { const e = this.entries.get(url); return !!(e && e.blob); }

  touch(url, entry) { this.entries.delete(url); this.entries.set(url, entry); }

  fetch(url) {
    let entry = this.entries.get(url);
    if (entry) { this.touch(url, entry); return entry.promise; }
    entry = { blob: null, headers: null, bitmap: null, bitmapPromise: null, bytes: 0 };
    this.inFlight += 1;
    entry.promise = fetch(url, { credentials: "same-origin" }).then(async (response) => {
      if (!response.ok) {
        const data = await response.json().catch(() => ({}));
        throw new Error(data.detail || `HTTP ${response.status}`);
      }
      entry.headers = {
        wc: response.headers.get("X-Window-Center"), ww: response.headers.get("X-Window-Width"),
        spacing: response.headers.get("X-Pixel-Spacing"), spacingSource: response.headers.get("X-Spacing-Source"),
        size: response.headers.get("X-Image-Size"),
      };
      entry.blob = await response.blob();
      entry.bytes = entry.blob.size;
      this.bytes += entry.bytes;
      this.stats.fetched += 1;
      this.evict();
      return entry;
    }).catch((error) => { this.entries.delete(url); this.failed.add(url); throw error; })
      .finally(() => { this.inFlight -= 1; this.pump(); });
    this.entries.set(url, entry);
    return entry.promise;
  }

  async bitmap(url) {
    const entry = await this.fetch(url);
    if (!entry.bitmap) {
      if (!entry.bitmapPromise) {
        entry.bitmapPromise = createImageBitmap(entry.blob).then((bmp) => {
          entry.bitmap = bmp;
          this.bitmaps.push(entry);
          while (this.bitmaps.length > BITMAP_LIMIT) {
            const old = this.bitmaps.shift();
            if (old.bitmap) old.bitmap.close();
            old.bitmap = null; old.bitmapPromise = null;
          }
          return bmp;
        });
      }
      await entry.bitmapPromise;
    }
    return entry;
  }

  ready(url) { const e = this.entries.get(url); return e && e.bitmap ? e : null; }

  evict() {
    for (const [url, entry] of this.entries) {
      if (this.bytes <= BLOB_BUDGET) break;
      if (!entry.blob) continue;
      this.bytes -= entry.bytes;
      if (entry.bitmap) entry.bitmap.close();
      this.entries.delete(url);
    }
  }

  // Prefetch scheduler: each viewport lists the urls it wants, nearest first.
  pump() {
    while (this.inFlight < MAX_IN_FLIGHT) {
      let started = false;
      for (const source of this.sources) {
        const url = source.nextWanted();
        if (url) { this.fetch(url).then(() => source.onPrefetched(url)).catch(() => {}); started = true; }
        if (this.inFlight >= MAX_IN_FLIGHT) break;
      }
      if (!started) break;
    }
  }
}

const cache = new FrameCache();

// ---------------------------------------------------------------- geometry helpers

function spacingOf(item) {
  // [row mm, column mm] or null, for live lengths while drawing (the server's value replaces it).
  if (item.frameSpacing) return item.frameSpacing;
  return item.instance.pixel_spacing;
}

function physical(p, sp) { return sp ? [p[0] * sp[1], p[1] * sp[0]] : [p[0], p[1]]; }
function fromPhysical(q, sp) { return sp ? [q[0] / sp[1], q[1] / sp[0]] : [q[0], q[1]]; }
function sub(a, b) { return [a[0] - b[0], a[1] - b[1]]; }
function add(a, b) { return [a[0] + b[0], a[1] + b[1]]; }
function mul(a, k) { return [a[0] * k, a[1] * k]; }
function dot(a, b) { return a[0] * b[0] + a[1] * b[1]; }
function norm(a) { return Math.hypot(a[0], a[1]); }
function round3(p) { return [Math.round(p[0] * 1000) / 1000, Math.round(p[1] * 1000) / 1000]; }

function lengthOf(p1, p2, sp) { return norm(sub(physical(p2, sp), physical(p1, sp))); }

// A bidirectional measurement as long axis A-B plus the short axis described by where it
// crosses (t along A-B) and how far each end lies on either side (d1, d2), in physical space
// so that "perpendicular" means perpendicular in the patient even with non-square pixels.
function bidiFrame(points, sp) {
  const A = physical(points[0], sp), B = physical(points[1], sp);
  const L = norm(sub(B, A)) || 1;
  const u = mul(sub(B, A), 1 / L), v = [-u[1], u[0]];
  return { A, B, L, u, v };
}

function bidiParams(points, sp) {
  const f = bidiFrame(points, sp);
  const P3 = physical(points[2], sp), P4 = physical(points[3], sp);
  const t = dot(sub(P3, f.A), f.u) / f.L;
  return { t, d1: dot(sub(P3, f.A), f.v), d2: -dot(sub(P4, f.A), f.v) };
}

function bidiPoints(longAxis, params, sp) {
  const f = bidiFrame([longAxis[0], longAxis[1]], sp);
  const C = add(f.A, mul(f.u, params.t * f.L));
  const P3 = add(C, mul(f.v, params.d1)), P4 = sub(C, mul(f.v, params.d2));
  return [longAxis[0], longAxis[1], fromPhysical(P3, sp), fromPhysical(P4, sp)].map(round3);
}

function formatLength(mm, px, source) {
  if (mm === null || mm === undefined) return `${px.toFixed(1)} px`;
  return `${mm.toFixed(1)} mm${source === "ImagerPixelSpacing" ? "*" : ""}`;
}

// ---------------------------------------------------------------- viewport

const HANDLE_RADIUS = 6;

class Viewport {
  constructor(viewer, index) {
    this.viewer = viewer;
    this.index = index;
    this.series = null;
    this.stack = [];
    this.position = 0;
    this.windowMode = { kind: "default" }; // default | preset {key} | manual {wc, ww}
    this.shownWindow = null; // {wc, ww} of the frame on screen
    this.zoom = 1; this.panX = 0; this.panY = 0;
    this.measurements = [];
    this.selected = null;
    this.drag = null;
    this.direction = 1;
    this.drawn = null; // {url, bitmap}
    this.pending = new Set();
    this.buildDom();
    cache.sources.add(this);
  }

  buildDom() {
    const el = document.createElement("div");
    el.className = "vw-port";
    el.dataset.port = String(this.index);
    el.innerHTML = `<div class="vw-stage" tabindex="0"><canvas></canvas>
      <div class="vw-overlay tl"></div><div class="vw-overlay tr"></div>
      <div class="vw-overlay bl"></div><div class="vw-overlay br"></div>
      <div class="vw-warning" hidden></div><div class="vw-message" hidden></div></div>
      <input type="range" class="vw-slider" min="0" max="0" value="0" aria-label="Slice">`;
    this.el = el;
    this.stage = el.querySelector(".vw-stage");
    this.canvas = el.querySelector("canvas");
    this.ctx = this.canvas.getContext("2d");
    this.slider = el.querySelector(".vw-slider");
    this.overlays = {
      tl: el.querySelector(".tl"), tr: el.querySelector(".tr"), bl: el.querySelector(".bl"), br: el.querySelector(".br"),
    };
    this.warning = el.querySelector(".vw-warning");
    this.message = el.querySelector(".vw-message");
    this.slider.addEventListener("input", () => this.show(Number(this.slider.value)));
    this.stage.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    this.stage.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    this.stage.addEventListener("pointermove", (e) => this.onPointerMove(e));
    this.stage.addEventListener("pointerup", (e) => this.onPointerUp(e));
    this.stage.addEventListener("pointercancel", (e) => this.onPointerUp(e));
    this.stage.addEventListener("contextmenu", (e) => e.preventDefault());
    this.stage.addEventListener("focus", () => this.viewer.activate(this));
    new ResizeObserver(() => this.draw()).observe(this.stage);
  }

  // ---- data

  async setSeries(series) {
    this.series = series;
    this.stack = [];
    this.measurements = [];
    this.selected = null;
    this.pending.clear();
    this.drawn = null;
    this.resetView(false);
    this.setMessage("Loading…");
    this.el.dataset.series = String(series.id);
    delete this.el.dataset.loaded;
    const instances = await getAll(`${config.api.instances}?series=${series.id}`);
    if (this.series !== series) return;
    for (const instance of instances) {
      for (let frame = 0; frame < Math.max(instance.number_of_frames, 1); frame += 1) {
        this.stack.push({ instance, frame, position: instance.slice_position, frameSpacing: null });
      }
    }
    this.slider.max = String(Math.max(this.stack.length - 1, 0));
    this.el.dataset.count = String(this.stack.length);
    this.setMessage(this.stack.length ? "" : "This series has no images.");
    this.viewer.markSeries();
    await this.loadMeasurements();
    // A new stack invalidates the synced alignment: re-anchor after showing its middle slice.
    const synced = !!this.viewer.syncAnchor;
    this.viewer.syncAnchor = null;
    this.show(Math.floor((this.stack.length - 1) / 2));
    if (synced) this.viewer.setSync(true);
  }

  async loadMeasurements() {
    if (!this.series) return;
    const series = this.series;
    const rows = await getAll(`${config.api.measurements}?series=${series.id}`);
    if (this.series !== series) return;
    this.measurements = rows;
    this.viewer.renderMeasurementList();
    this.draw();
  }

  current() { return this.stack[this.position] || null; }

  isColor(item) {
    const pi = (item && item.instance.photometric_interpretation) || "";
    return !pi.startsWith("MONOCHROME") && pi !== "";
  }

  frameUrl(item) {
    const params = new URLSearchParams();
    if (this.windowMode.kind === "manual") {
      params.set("wc", this.windowMode.wc.toFixed(1));
      params.set("ww", this.windowMode.ww.toFixed(1));
    } else if (this.windowMode.kind === "preset") {
      params.set("preset", this.windowMode.key);
    }
    const edge = Math.max(item.instance.rows || 0, item.instance.columns || 0);
    if (edge > 1024) {
      // Large radiographs: ask for what the screen can show (in 512 steps, so urls repeat).
      const rect = this.stage.getBoundingClientRect();
      const want = Math.max(rect.width, rect.height) * (window.devicePixelRatio || 1) * Math.max(this.zoom, 1);
      const size = Math.min(edge, Math.ceil(want / 512) * 512);
      if (size < edge) params.set("size", String(size));
    }
    const query = params.toString();
    return `${config.api.instances}${item.instance.id}/frames/${item.frame}/rendered${query ? "?" + query : ""}`;
  }

  // ---- navigation

  show(position) {
    if (!this.stack.length) return;
    const clamped = Math.max(0, Math.min(this.stack.length - 1, position));
    if (clamped !== this.position) this.direction = clamped > this.position ? 1 : -1;
    this.position = clamped;
    this.slider.value = String(clamped);
    this.el.dataset.index = String(clamped);
    const item = this.current();
    const url = this.frameUrl(item);
    const ready = cache.ready(url);
    if (ready) {
      cache.stats.hits += 1;
      this.present(url, ready);
    } else {
      if (cache.has(url)) cache.stats.hits += 1; else cache.stats.misses += 1;
      cache.bitmap(url).then((entry) => { if (this.frameUrl(this.current()) === url) this.present(url, entry); })
        .catch((error) => { if (this.frameUrl(this.current()) === url) this.setMessage(error.message); });
    }
    this.updateOverlay();
    this.prefetch();
    this.viewer.onPositionChange(this);
    this.viewer.renderMeasurementList();
    if (this.viewer.active === this) this.viewer.updateHeader();
  }

  step(delta) { this.show(this.position + delta); }

  present(url, entry) {
    this.drawn = { url, bitmap: entry.bitmap };
    this.approx = null;
    const item = this.current();
    if (entry.headers) {
      if (entry.headers.wc !== null && entry.headers.ww !== null) {
        this.shownWindow = { wc: Number(entry.headers.wc), ww: Number(entry.headers.ww) };
      } else {
        this.shownWindow = null;
      }
      if (entry.headers.spacing) item.frameSpacing = entry.headers.spacing.split(",").map(Number);
      if (entry.headers.size && !(item.instance.columns && item.instance.rows)) {
        [item.instance.columns, item.instance.rows] = entry.headers.size.split("x").map(Number);
      }
    }
    this.setMessage("");
    this.el.dataset.loaded = url;
    this.draw();
    this.updateOverlay();
  }

  // Nearest frames first, a few more ahead in the direction of scrolling; the whole series
  // ends up cached so that scrolling back and forth never waits.
  nextWanted() {
    if (!this.stack.length) return null;
    for (let d = 0; d < this.stack.length; d += 1) {
      for (const sign of [this.direction, -this.direction]) {
        const i = this.position + sign * d;
        if (i < 0 || i >= this.stack.length) continue;
        const url = this.frameUrl(this.stack[i]);
        if (!cache.entries.has(url) && !cache.failed.has(url)) return url;
        if (d === 0) break;
      }
    }
    return null;
  }

  onPrefetched(url) {
    // Decode the neighbours too, so that the next step draws synchronously.
    const near = [this.position - 2, this.position - 1, this.position + 1, this.position + 2, this.position + 3];
    for (const i of near) {
      if (i >= 0 && i < this.stack.length && this.frameUrl(this.stack[i]) === url) cache.bitmap(url).catch(() => {});
    }
  }

  prefetch() {
    for (let k = 1; k <= 3; k += 1) {
      const i = this.position + this.direction * k;
      if (i >= 0 && i < this.stack.length) {
        const url = this.frameUrl(this.stack[i]);
        if (cache.has(url)) cache.bitmap(url).catch(() => {});
      }
    }
    cache.pump();
  }

  // ---- window / level

  setPreset(key) {
    if (!key) this.windowMode = { kind: "default" };
    else this.windowMode = { kind: "preset", key };
    this.show(this.position);
  }

  setManualWindow(wc, ww) {
    this.windowMode = { kind: "manual", wc, ww: Math.max(ww, 1) };
  }

  resetView(redraw = true) {
    this.zoom = 1; this.panX = 0; this.panY = 0;
    this.windowMode = { kind: "default" };
    if (this.viewer.active === this) document.getElementById("preset").value = "";
    if (redraw && this.stack.length) this.show(this.position);
  }

  // ---- drawing

  layout() {
    const rect = this.stage.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const item = this.current();
    const cols = (item && item.instance.columns) || 1, rows = (item && item.instance.rows) || 1;
    const fit = Math.min(rect.width / cols, rect.height / rows) || 1;
    const scale = fit * this.zoom;
    return {
      rect, dpr, cols, rows, scale,
      left: rect.width / 2 - (cols * scale) / 2 + this.panX,
      top: rect.height / 2 - (rows * scale) / 2 + this.panY,
    };
  }

  imageToStage(p, lay = this.layout()) { return [lay.left + p[0] * lay.scale, lay.top + p[1] * lay.scale]; }

  stageToImage(x, y, lay = this.layout()) { return [(x - lay.left) / lay.scale, (y - lay.top) / lay.scale]; }

  imageToClient(x, y) {
    // Page coordinates of an image pixel position (used by the browser tests, handy in the console).
    const lay = this.layout();
    const [sx, sy] = this.imageToStage([x, y], lay);
    return [lay.rect.left + sx, lay.rect.top + sy];
  }

  draw() {
    const lay = this.layout();
    const width = Math.round(lay.rect.width * lay.dpr), height = Math.round(lay.rect.height * lay.dpr);
    if (this.canvas.width !== width || this.canvas.height !== height) {
      this.canvas.width = width; this.canvas.height = height;
    }
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, width, height);
    ctx.setTransform(lay.dpr, 0, 0, lay.dpr, 0, 0);
    const source = this.approx || (this.drawn && this.drawn.bitmap);
    if (source) {
      ctx.imageSmoothingEnabled = lay.scale < 2;
      ctx.drawImage(source, lay.left, lay.top, lay.cols * lay.scale, lay.rows * lay.scale);
    }
    this.drawMeasurements(ctx, lay);
  }

  visibleMeasurements() {
    const item = this.current();
    if (!item) return [];
    const list = this.measurements.filter((m) => m.instance === item.instance.id && m.frame === item.frame);
    if (this.drag && this.drag.kind === "new") list.push(this.drag.measurement);
    return list;
  }

  drawMeasurements(ctx, lay) {
    for (const m of this.visibleMeasurements()) {
      const selected = this.selected === m.id && m.id !== undefined;
      const colour = selected ? "#ffd34d" : (m.can_edit === false ? "#7fd1ff" : "#4cff8f");
      const pts = m.points.map((p) => this.imageToStage(p, lay));
      ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineWidth = selected ? 2 : 1.5;
      const segments = m.kind === "bidirectional" ? [[0, 1], [2, 3]] : [[0, 1]];
      for (const [a, b] of segments) {
        if (!pts[a] || !pts[b]) continue;
        ctx.beginPath(); ctx.moveTo(...pts[a]); ctx.lineTo(...pts[b]); ctx.stroke();
      }
      for (const p of pts) { ctx.beginPath(); ctx.arc(p[0], p[1], 3, 0, Math.PI * 2); ctx.stroke(); }
      const text = this.measurementText(m);
      const anchor = pts.reduce((best, p) => (p[0] > best[0] ? p : best), pts[0]);
      ctx.font = "13px system-ui, sans-serif";
      // Keep the label inside the viewport: left of the measurement when it would overflow.
      const textWidth = ctx.measureText(text).width;
      let tx = anchor[0] + 8;
      if (tx + textWidth > lay.rect.width - 4) tx = Math.min(...pts.map((p) => p[0])) - 8 - textWidth;
      const ty = Math.max(14, anchor[1] - 6);
      ctx.lineWidth = 3; ctx.strokeStyle = "#000";
      ctx.strokeText(text, tx, ty);
      ctx.fillText(text, tx, ty);
    }
  }

  measurementText(m) {
    const sp = spacingOf(this.current());
    const source = m.spacing_source !== undefined ? m.spacing_source : (this.current().instance.spacing_source || "");
    const live = m.id === undefined || (this.drag && this.drag.measurement === m);
    const longMm = live ? (sp ? lengthOf(m.points[0], m.points[1], sp) : null) : m.length_mm;
    const longPx = lengthOf(m.points[0], m.points[1], null);
    if (m.kind !== "bidirectional" || m.points.length < 4) return formatLength(longMm, longPx, source);
    const shortMm = live ? (sp ? lengthOf(m.points[2], m.points[3], sp) : null) : m.short_axis_mm;
    const shortPx = lengthOf(m.points[2], m.points[3], null);
    return `${formatLength(longMm, longPx, source)} × ${formatLength(shortMm, shortPx, source)}`;
  }

  updateOverlay() {
    const item = this.current();
    const s = this.series;
    if (!s || !item) { for (const o of Object.values(this.overlays)) o.textContent = ""; return; }
    this.overlays.tl.textContent = `${s.timepoint} ${s.timepoint_label}\nSeries ${s.series_number ?? ""} ${s.description}`;
    this.overlays.tr.textContent = `${s.modality}${s.body_part ? " · " + s.body_part : ""}`;
    const pos = item.position === null || item.position === undefined ? "" : `  ·  Pos ${item.position.toFixed(1)} mm`;
    const frames = item.instance.number_of_frames > 1 ? `  ·  Frame ${item.frame + 1}/${item.instance.number_of_frames}` : "";
    this.overlays.bl.textContent = `Slice ${this.position + 1}/${this.stack.length}${frames}${pos ? "\n" + pos.replace("  ·  ", "") : ""}`;
    const w = this.windowMode.kind === "manual" ? this.windowMode : this.shownWindow;
    const wl = w && !this.isColor(item) ? `W ${Math.round(w.ww)} L ${Math.round(w.wc)}\n` : "";
    this.overlays.br.textContent = `${wl}Zoom ${(this.zoom).toFixed(2)}×`;
    this.el.dataset.window = w ? `${Math.round(w.wc)},${Math.round(w.ww)}` : "";
    const source = item.instance.spacing_source;
    if (!source) this.setWarning("No pixel spacing: lengths are shown in pixels only.");
    else if (source === "ImagerPixelSpacing") this.setWarning("Lengths* use ImagerPixelSpacing (detector plane, magnification not corrected).");
    else this.setWarning("");
  }

  setWarning(text) { this.warning.hidden = !text; this.warning.textContent = text; }

  setMessage(text) { this.message.hidden = !text; this.message.textContent = text; }

  // ---- interaction

  onWheel(event) {
    event.preventDefault();
    this.viewer.activate(this);
    if (event.ctrlKey) {
      this.zoomAt(event.deltaY < 0 ? 1.1 : 1 / 1.1);
    } else {
      this.step(event.deltaY > 0 ? 1 : -1);
    }
  }

  zoomAt(factor) {
    this.zoom = Math.max(0.1, Math.min(40, this.zoom * factor));
    this.draw(); this.updateOverlay();
  }

  pointerImage(event) {
    const rect = this.stage.getBoundingClientRect();
    return this.stageToImage(event.clientX - rect.left, event.clientY - rect.top);
  }

  hitHandle(event) {
    const rect = this.stage.getBoundingClientRect();
    const x = event.clientX - rect.left, y = event.clientY - rect.top;
    const lay = this.layout();
    for (const m of this.visibleMeasurements()) {
      if (!m.can_edit || !config.canMeasure) continue;
      for (let i = 0; i < m.points.length; i += 1) {
        const p = this.imageToStage(m.points[i], lay);
        if (Math.hypot(p[0] - x, p[1] - y) <= HANDLE_RADIUS + 2) return { measurement: m, handle: i };
      }
    }
    return null;
  }

  hitLine(event) {
    const rect = this.stage.getBoundingClientRect();
    const q = [event.clientX - rect.left, event.clientY - rect.top];
    const lay = this.layout();
    for (const m of this.visibleMeasurements()) {
      const pts = m.points.map((p) => this.imageToStage(p, lay));
      const segments = m.kind === "bidirectional" ? [[0, 1], [2, 3]] : [[0, 1]];
      for (const [a, b] of segments) {
        const ab = sub(pts[b], pts[a]);
        const t = Math.max(0, Math.min(1, dot(sub(q, pts[a]), ab) / (dot(ab, ab) || 1)));
        if (norm(sub(q, add(pts[a], mul(ab, t)))) < 5) return m;
      }
    }
    return null;
  }

  onPointerDown(event) {
    if (!this.stack.length) return;
    this.viewer.activate(this);
    this.stage.focus({ preventScroll: true });
    this.stage.setPointerCapture(event.pointerId);
    const start = { x: event.clientX, y: event.clientY };
    if (event.button === 2) { this.drag = { kind: "zoom", start, zoom: this.zoom }; return; }
    if (event.button === 1) { this.drag = { kind: "pan", start, panX: this.panX, panY: this.panY }; return; }
    const hit = this.hitHandle(event);
    if (hit) {
      this.selected = hit.measurement.id;
      const sp = spacingOf(this.current());
      this.drag = { kind: "handle", measurement: hit.measurement, handle: hit.handle, before: hit.measurement.points,
        params: hit.measurement.kind === "bidirectional" ? bidiParams(hit.measurement.points, sp) : null };
      this.viewer.renderMeasurementList();
      return;
    }
    const tool = this.viewer.tool;
    if ((tool === "line" || tool === "bidi") && config.canMeasure) {
      const p = round3(this.pointerImage(event));
      const kind = tool === "line" ? "line" : "bidirectional";
      this.drag = { kind: "new", measurement: { kind, points: [p, p], can_edit: true }, tool };
      return;
    }
    const line = this.hitLine(event);
    if (line) { this.selected = line.id; this.viewer.renderMeasurementList(); this.draw(); }
    if (tool === "pan") this.drag = { kind: "pan", start, panX: this.panX, panY: this.panY };
    else if (tool === "zoom") this.drag = { kind: "zoom", start, zoom: this.zoom };
    else if (!this.isColor(this.current())) {
      const w = this.windowMode.kind === "manual" ? this.windowMode : (this.shownWindow || { wc: 40, ww: 400 });
      this.drag = { kind: "wl", start, wc: w.wc, ww: w.ww, moved: false };
    }
  }

  onPointerMove(event) {
    const drag = this.drag;
    if (!drag) return;
    if (drag.kind === "pan") {
      this.panX = drag.panX + event.clientX - drag.start.x;
      this.panY = drag.panY + event.clientY - drag.start.y;
      this.draw();
    } else if (drag.kind === "zoom") {
      this.zoom = Math.max(0.1, Math.min(40, drag.zoom * Math.exp(-(event.clientY - drag.start.y) / 150)));
      this.draw(); this.updateOverlay();
    } else if (drag.kind === "wl") {
      const dx = event.clientX - drag.start.x, dy = event.clientY - drag.start.y;
      // Sensitivity grows with the window so that both CT (thousands of HU) and PET feel alike.
      const k = Math.max(drag.ww, 1) / 300;
      this.setManualWindow(drag.wc - dy * k, drag.ww + dx * k);
      drag.moved = true;
      this.approximateWindow(this.shownWindow);
      this.updateOverlay();
      clearTimeout(this.wlTimer);
      this.wlTimer = setTimeout(() => this.show(this.position), 180);
    } else if (drag.kind === "new") {
      const m = drag.measurement;
      const p = round3(this.clampToImage(this.pointerImage(event)));
      if (m.kind === "line") m.points = [m.points[0], p];
      else m.points = [m.points[0], p];
      this.draw();
    } else if (drag.kind === "handle") {
      this.moveHandle(drag, round3(this.clampToImage(this.pointerImage(event))));
      this.draw();
    }
  }

  clampToImage(p) {
    const item = this.current();
    return [Math.max(0, Math.min(item.instance.columns, p[0])), Math.max(0, Math.min(item.instance.rows, p[1]))];
  }

  moveHandle(drag, p) {
    const m = drag.measurement;
    const sp = spacingOf(this.current());
    if (m.kind !== "bidirectional") {
      const points = m.points.slice();
      points[drag.handle] = p;
      m.points = points;
      return;
    }
    if (drag.handle < 2) {
      const longAxis = drag.handle === 0 ? [p, m.points[1]] : [m.points[0], p];
      m.points = bidiPoints(longAxis, drag.params, sp);
      return;
    }
    const f = bidiFrame(m.points, sp);
    const P = physical(p, sp);
    const t = Math.max(0, Math.min(1, dot(sub(P, f.A), f.u) / f.L));
    const d = dot(sub(P, f.A), f.v);
    const params = { ...drag.params, t };
    if (drag.handle === 2) params.d1 = d; else params.d2 = -d;
    drag.params = params;
    m.points = bidiPoints([m.points[0], m.points[1]], params, sp);
  }

  async onPointerUp(event) {
    const drag = this.drag;
    this.drag = null;
    if (this.stage.hasPointerCapture(event.pointerId)) this.stage.releasePointerCapture(event.pointerId);
    if (!drag) return;
    if (drag.kind === "wl" && drag.moved) { clearTimeout(this.wlTimer); this.show(this.position); return; }
    if (drag.kind === "new") {
      const m = drag.measurement;
      if (lengthOf(m.points[0], m.points[1], null) * this.layout().scale < 4) { this.draw(); return; }
      if (m.kind === "bidirectional") {
        const sp = spacingOf(this.current());
        const L = lengthOf(m.points[0], m.points[1], sp);
        m.points = bidiPoints([m.points[0], m.points[1]], { t: 0.5, d1: L / 4, d2: L / 4 }, sp);
      }
      await this.save(m);
      return;
    }
    if (drag.kind === "handle") {
      const m = drag.measurement;
      if (JSON.stringify(m.points) === JSON.stringify(drag.before)) return;
      try {
        const saved = await send("PATCH", `${config.api.measurements}${m.id}/`, { points: m.points });
        Object.assign(m, saved);
      } catch (error) {
        m.points = drag.before;
        this.viewer.notify(`Not moved: ${error.message}`);
      }
      this.viewer.renderMeasurementList();
      this.draw();
    }
  }

  async save(m) {
    const item = this.current();
    try {
      const saved = await send("POST", config.api.measurements, {
        instance: item.instance.id, frame: item.frame, kind: m.kind, points: m.points, label: "",
      });
      this.measurements.push(saved);
      this.selected = saved.id;
      this.viewer.notify(saved.message || "");
    } catch (error) {
      this.viewer.notify(`Not saved: ${error.message}`);
    }
    this.viewer.renderMeasurementList();
    this.draw();
  }

  async remove(id) {
    try {
      await send("DELETE", `${config.api.measurements}${id}/`);
      this.measurements = this.measurements.filter((m) => m.id !== id);
      if (this.selected === id) this.selected = null;
    } catch (error) {
      this.viewer.notify(`Not deleted: ${error.message}`);
    }
    this.viewer.renderMeasurementList();
    this.draw();
  }

  // While the window is being dragged, remap the 8-bit image on screen (rendered at `base`)
  // to the new window; the exact frame is fetched as soon as the drag pauses.
  approximateWindow(base) {
    if (!base || !this.drawn || !this.drawn.bitmap) return;
    const w = this.windowMode;
    const bmp = this.drawn.bitmap;
    if (!this.scratch) this.scratch = document.createElement("canvas");
    const c = this.scratch;
    c.width = bmp.width; c.height = bmp.height;
    const cctx = c.getContext("2d", { willReadFrequently: true });
    cctx.drawImage(bmp, 0, 0);
    const data = cctx.getImageData(0, 0, c.width, c.height);
    const lut = new Uint8ClampedArray(256);
    for (let y = 0; y < 256; y += 1) {
      const value = base.wc - base.ww / 2 + (y / 255) * base.ww;
      lut[y] = ((value - (w.wc - w.ww / 2)) / w.ww) * 255;
    }
    const px = data.data;
    for (let i = 0; i < px.length; i += 4) { px[i] = lut[px[i]]; px[i + 1] = lut[px[i + 1]]; px[i + 2] = lut[px[i + 2]]; }
    cctx.putImageData(data, 0, 0);
    this.approx = c;
    this.draw();
  }
}

// ---------------------------------------------------------------- the page

class Viewer {
  constructor() {
    this.ports = [];
    this.active = null;
    this.tool = "wl";
    this.series = [];
    this.syncAnchor = null;
    this.syncing = false;
    this.headerCache = new Map();
    this.portsEl = document.getElementById("ports");
    this.listEl = document.getElementById("series-list");
    this.mlistEl = document.getElementById("measurement-list");
    this.headerPanel = document.getElementById("header-panel");
    this.ports.push(new Viewport(this, 0));
    this.portsEl.append(this.ports[0].el);
    this.activate(this.ports[0]);
    this.bindToolbar();
    document.addEventListener("keydown", (e) => this.onKey(e));
  }

  async start() {
    const lists = await Promise.all(config.visits.map((v) => getAll(`${config.api.series}?visit=${v.id}`)));
    this.series = lists.flat();
    this.renderSeriesList();
    if (!this.series.length) return;
    const first = this.series[0];
    if (config.compare) {
      const lastVisit = [...config.visits].reverse().find((v) => this.series.some((s) => s.visit === v.id));
      const other = this.series.find((s) => s.visit === lastVisit.id && s.visit !== first.visit) ||
        this.series.find((s) => s.id !== first.id) || first;
      this.setCompare(true);
      await Promise.all([this.ports[0].setSeries(first), this.ports[1].setSeries(other)]);
    } else {
      await this.ports[0].setSeries(first);
    }
  }

  bindToolbar() {
    for (const button of document.querySelectorAll("[data-tool]")) {
      if (button.hasAttribute("data-measure") && !config.canMeasure) button.disabled = true;
      button.addEventListener("click", () => this.setTool(button.dataset.tool));
    }
    document.getElementById("preset").addEventListener("change", (e) => this.active && this.active.setPreset(e.target.value));
    document.getElementById("reset").addEventListener("click", () => this.active && this.active.resetView());
    document.getElementById("compare").addEventListener("change", (e) => this.setCompare(e.target.checked));
    document.getElementById("sync").addEventListener("change", (e) => this.setSync(e.target.checked));
    const headerButton = document.getElementById("toggle-header");
    headerButton.addEventListener("click", () => {
      const open = this.headerPanel.hidden;
      this.headerPanel.hidden = !open;
      headerButton.setAttribute("aria-pressed", String(open));
      this.updateHeader();
    });
    document.getElementById("header-filter").addEventListener("input", () => this.filterHeader());
  }

  setTool(tool) {
    this.tool = tool;
    for (const b of document.querySelectorAll("[data-tool]")) b.classList.toggle("active", b.dataset.tool === tool);
  }

  activate(port) {
    if (this.active === port) return;
    this.active = port;
    for (const p of this.ports) p.el.classList.toggle("active", p === port);
    const mode = port.windowMode;
    document.getElementById("preset").value = mode.kind === "preset" ? mode.key : "";
    this.renderMeasurementList();
    this.updateHeader();
  }

  setCompare(on) {
    document.getElementById("compare").checked = on;
    if (on && this.ports.length === 1) {
      const port = new Viewport(this, 1);
      this.ports.push(port);
      this.portsEl.append(port.el);
      const current = this.ports[0].series;
      const other = this.series.find((s) => current && s.visit !== current.visit) || current;
      if (other && !config.compare) port.setSeries(other);
    } else if (!on && this.ports.length === 2) {
      const port = this.ports.pop();
      cache.sources.delete(port);
      port.el.remove();
      this.setSync(false);
      this.activate(this.ports[0]);
    }
    this.portsEl.classList.toggle("two", this.ports.length === 2);
    for (const p of this.ports) p.draw();
    this.markSeries();
  }

  setSync(on) {
    document.getElementById("sync").checked = on && this.ports.length === 2;
    if (!on || this.ports.length < 2) { this.syncAnchor = null; return; }
    // Scrolling keeps the distance from where both stacks were when syncing started, so a
    // baseline and a follow-up (different scanners, different table positions) stay aligned
    // on the anatomy the user lined up.
    this.syncAnchor = this.ports.map((p) => ({ position: p.current() && p.current().position, index: p.position }));
  }

  onPositionChange(port) {
    if (!this.syncAnchor || this.syncing || this.ports.length < 2) return;
    const other = this.ports.find((p) => p !== port);
    const a = this.syncAnchor[port.index], b = this.syncAnchor[other.index];
    const here = port.current();
    this.syncing = true;
    try {
      if (a.position !== null && a.position !== undefined && b.position !== null && b.position !== undefined &&
          here.position !== null && here.position !== undefined) {
        const target = b.position + (here.position - a.position);
        let best = 0, bestDistance = Infinity;
        other.stack.forEach((item, i) => {
          const distance = Math.abs((item.position ?? Infinity) - target);
          if (distance < bestDistance) { best = i; bestDistance = distance; }
        });
        other.show(best);
      } else {
        other.show(b.index + (port.position - a.index));
      }
    } finally {
      this.syncing = false;
    }
  }

  renderSeriesList() {
    this.listEl.textContent = "";
    if (!this.series.length) {
      this.listEl.innerHTML = '<p class="empty">No images for this visit yet.</p>';
      return;
    }
    for (const visit of config.visits) {
      const items = this.series.filter((s) => s.visit === visit.id);
      if (!items.length) continue;
      const heading = document.createElement("div");
      heading.className = "vw-visit";
      heading.textContent = `${visit.code} · ${visit.label}`;
      this.listEl.append(heading);
      for (const s of items) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "vw-series-item";
        button.dataset.series = String(s.id);
        const img = document.createElement("img");
        img.src = s.thumbnail_url; img.alt = ""; img.loading = "lazy";
        const text = document.createElement("span");
        text.innerHTML = `<strong></strong><br><span></span>`;
        text.querySelector("strong").textContent = `${s.modality} ${s.series_number ?? ""}`;
        text.querySelector("span").textContent = `${s.description || "(no description)"} · ${s.instance_count} img`;
        if (s.burned_in_annotation) {
          const flag = document.createElement("span");
          flag.className = "flag";
          flag.textContent = "Burned-in text possible";
          text.append(flag);
        }
        button.append(img, text);
        button.addEventListener("click", () => this.active.setSeries(s));
        this.listEl.append(button);
      }
    }
  }

  markSeries() {
    for (const el of this.listEl.querySelectorAll(".vw-series-item")) {
      for (const p of [0, 1]) {
        const port = this.ports[p];
        el.classList.toggle(`in-port-${p}`, !!(port && port.series && String(port.series.id) === el.dataset.series));
      }
    }
  }

  renderMeasurementList() {
    const port = this.active;
    this.mlistEl.textContent = "";
    if (!port || !port.series) return;
    const rows = port.measurements.slice().sort((a, b) => a.id - b.id);
    for (const m of rows) {
      const li = document.createElement("li");
      li.dataset.measurement = String(m.id);
      li.classList.toggle("selected", port.selected === m.id);
      const index = port.stack.findIndex((it) => it.instance.id === m.instance && it.frame === m.frame);
      const value = document.createElement("span");
      value.className = "m-value";
      value.textContent = m.kind === "bidirectional"
        ? `${formatLength(m.length_mm, m.length_px, m.spacing_source)} × ${formatLength(m.short_axis_mm, m.short_axis_px, m.spacing_source)}`
        : formatLength(m.length_mm, m.length_px, m.spacing_source);
      const where = document.createElement("span");
      where.className = "m-where";
      where.textContent = `${m.kind === "bidirectional" ? "Bidir." : "Caliper"} · slice ${index + 1}`;
      if (m.message) {
        const warn = document.createElement("span");
        warn.className = "m-warn";
        warn.textContent = m.message;
        where.append(warn);
      }
      const go = document.createElement("button");
      go.type = "button"; go.textContent = "Go"; go.title = "Show this slice";
      go.addEventListener("click", () => { port.selected = m.id; port.show(index); });
      li.append(value, where, go);
      if (m.can_edit && config.canMeasure) {
        const del = document.createElement("button");
        del.type = "button"; del.textContent = "Delete"; del.className = "m-delete";
        del.addEventListener("click", () => port.remove(m.id));
        li.append(del);
      }
      this.mlistEl.append(li);
    }
  }

  async updateHeader() {
    if (this.headerPanel.hidden || !this.active || !this.active.current()) return;
    const id = this.active.current().instance.id;
    clearTimeout(this.headerTimer);
    this.headerTimer = setTimeout(async () => {
      let rows = this.headerCache.get(id);
      if (!rows) {
        try { rows = (await getJSON(`${config.api.instances}${id}/header/`)).rows; } catch (e) { return; }
        this.headerCache.set(id, rows);
      }
      if (!this.active.current() || this.active.current().instance.id !== id) return;
      document.getElementById("header-which").textContent = `instance ${this.active.current().instance.instance_number ?? ""}`;
      const body = document.querySelector("#header-table tbody");
      body.textContent = "";
      for (const row of rows) {
        const tr = document.createElement("tr");
        for (const value of [row.tag, row.keyword, row.vr, row.value]) {
          const td = document.createElement("td"); td.textContent = value; tr.append(td);
        }
        body.append(tr);
      }
      this.filterHeader();
    }, 120);
  }

  filterHeader() {
    const needle = document.getElementById("header-filter").value.trim().toLowerCase();
    for (const tr of document.querySelectorAll("#header-table tbody tr")) {
      tr.hidden = needle !== "" && !tr.textContent.toLowerCase().includes(needle);
    }
  }

  notify(text) {
    if (!this.active) return;
    this.active.setMessage(text);
    clearTimeout(this.notifyTimer);
    if (text) this.notifyTimer = setTimeout(() => this.active && this.active.setMessage(""), 4000);
  }

  onKey(event) {
    if (event.target.closest && event.target.closest("input, select, textarea")) return;
    const port = this.active;
    if (!port) return;
    const keys = {
      ArrowDown: () => port.step(1), ArrowRight: () => port.step(1), ArrowUp: () => port.step(-1),
      ArrowLeft: () => port.step(-1), PageDown: () => port.step(10), PageUp: () => port.step(-10),
      Home: () => port.show(0), End: () => port.show(port.stack.length - 1),
      r: () => port.resetView(), w: () => this.setTool("wl"), p: () => this.setTool("pan"), z: () => this.setTool("zoom"),
      l: () => config.canMeasure && this.setTool("line"), b: () => config.canMeasure && this.setTool("bidi"),
      Delete: () => port.selected && port.remove(port.selected),
      Backspace: () => port.selected && port.remove(port.selected),
      Escape: () => { port.drag = null; port.selected = null; port.draw(); this.renderMeasurementList(); },
    };
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  }
}

const viewer = new Viewer();
window.ictmsViewer = { viewer, cache, ready: viewer.start() };
