// One viewport: a stack of frames on a canvas with window/level, zoom, pan and calipers.

import * as calipers from "./calipers.js";
import { config } from "./config.js";
import { cache } from "./frame_cache.js";
import { getAll, send } from "../lib/http.js";
import { bidiParams, bidiPoints, lengthOf, round3, spacingOf } from "./geometry.js";

export class Viewport {
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

  visibleMeasurements() { return calipers.visibleMeasurements(this); }

  drawMeasurements(ctx, lay) { return calipers.drawMeasurements(this, ctx, lay); }

  measurementText(m) { return calipers.measurementText(this, m); }

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

  hitHandle(event) { return calipers.hitHandle(this, event); }

  hitLine(event) { return calipers.hitLine(this, event); }

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

  moveHandle(drag, p) { return calipers.moveHandle(this, drag, p); }

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
        calipers.announce(this, "moved", m);
      } catch (error) {
        m.points = drag.before;
        this.viewer.notify(`Not moved: ${error.message}`);
      }
      this.viewer.renderMeasurementList();
      this.draw();
    }
  }

  async save(m) { return calipers.save(this, m); }

  async remove(id) { return calipers.remove(this, id); }

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
