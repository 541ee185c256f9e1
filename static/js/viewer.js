// The DICOM viewer page: stacks of server-rendered frames on a canvas, window/level, zoom/pan,
// calipers and bidirectional measurements saved through the API, two synced viewports.
// Plain JavaScript, no dependencies. The server renders every frame (imaging.render) at the
// window asked for; this script only caches, draws and measures in image pixel coordinates.

import { config } from "./viewer/config.js";
import { cache } from "./viewer/frame_cache.js";
import { Viewport } from "./viewer/viewport.js";
import { getAll, getJSON } from "./lib/http.js";
import { formatLength } from "./viewer/geometry.js";

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
    // Other page modules ask the viewer to show an image: {series, instance, frame, measurement}.
    document.addEventListener("viewer:go-to", (e) => { e.detail.done = this.goTo(e.detail); });
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
    // A page may open the viewer at one image (the adjudication page's measurement links).
    if (config.goTo) await this.goTo(config.goTo);
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

  // Show one image of one of the page's series (with its measurement selected): in the viewport
  // that already shows that series, else in the one showing that visit, else in the other one
  // (the compare viewport, where earlier timepoints are shown).
  async goTo({ series, instance, frame = 0, measurement = null }) {
    const target = this.series.find((s) => s.id === series);
    if (!target) return false;
    let port = this.ports.find((p) => p.series && p.series.id === series) ||
      this.ports.find((p) => p.series && p.series.visit === target.visit);
    if (!port) {
      if (this.ports.length < 2 && config.visits.length > 1) this.setCompare(true);
      port = this.ports.find((p) => p !== this.active) || this.ports[0];
    }
    if (!port.series || port.series.id !== series) await port.setSeries(target);
    const index = port.stack.findIndex((it) => it.instance.id === instance && it.frame === frame);
    if (index < 0) return false;
    this.activate(port);
    port.selected = measurement;
    port.show(index);
    return true;
  }

  announceSelection() {
    const port = this.active;
    const selected = port && port.selected !== null ? port.measurements.find((m) => m.id === port.selected) : null;
    document.dispatchEvent(new CustomEvent("viewer:selection", {
      detail: { measurement: selected || null, visit: port && port.series ? port.series.visit : null },
    }));
  }

  renderMeasurementList() {
    const port = this.active;
    this.mlistEl.textContent = "";
    this.announceSelection();
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
    if (event.target.closest && event.target.closest("input, select, textarea, dialog, [data-no-viewer-keys]")) return;
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
