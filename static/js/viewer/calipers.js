// Calipers: drawing, hit-testing, dragging and saving a viewport's line and bidirectional
// measurements (in image pixel coordinates; the server computes the lengths it stores).

import { config } from "./config.js";
import { send } from "../lib/http.js";
import { add, bidiFrame, bidiPoints, dot, formatLength, lengthOf, mul, norm, physical, spacingOf, sub } from "./geometry.js";

export const HANDLE_RADIUS = 6;

// Other page modules (the reads panel) follow the measurements through DOM events rather than
// reaching into the viewer: "viewer:measurement" {change: created|moved|deleted, measurement, visit}.
export function announce(port, change, measurement) {
  document.dispatchEvent(new CustomEvent("viewer:measurement", {
    detail: { change, measurement, visit: port.series ? port.series.visit : null },
  }));
}

export function visibleMeasurements(port) {
  const item = port.current();
  if (!item) return [];
  const list = port.measurements.filter((m) => m.instance === item.instance.id && m.frame === item.frame);
  if (port.drag && port.drag.kind === "new") list.push(port.drag.measurement);
  return list;
}

export function drawMeasurements(port, ctx, lay) {
  for (const m of port.visibleMeasurements()) {
    const selected = port.selected === m.id && m.id !== undefined;
    const colour = selected ? "#ffd34d" : (m.can_edit === false ? "#7fd1ff" : "#4cff8f");
    const pts = m.points.map((p) => port.imageToStage(p, lay));
    ctx.strokeStyle = colour; ctx.fillStyle = colour; ctx.lineWidth = selected ? 2 : 1.5;
    const segments = m.kind === "bidirectional" ? [[0, 1], [2, 3]] : [[0, 1]];
    for (const [a, b] of segments) {
      if (!pts[a] || !pts[b]) continue;
      ctx.beginPath(); ctx.moveTo(...pts[a]); ctx.lineTo(...pts[b]); ctx.stroke();
    }
    for (const p of pts) { ctx.beginPath(); ctx.arc(p[0], p[1], 3, 0, Math.PI * 2); ctx.stroke(); }
    const text = port.measurementText(m);
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

export function measurementText(port, m) {
  const sp = spacingOf(port.current());
  const source = m.spacing_source !== undefined ? m.spacing_source : (port.current().instance.spacing_source || "");
  const live = m.id === undefined || (port.drag && port.drag.measurement === m);
  const longMm = live ? (sp ? lengthOf(m.points[0], m.points[1], sp) : null) : m.length_mm;
  const longPx = lengthOf(m.points[0], m.points[1], null);
  if (m.kind !== "bidirectional" || m.points.length < 4) return formatLength(longMm, longPx, source);
  const shortMm = live ? (sp ? lengthOf(m.points[2], m.points[3], sp) : null) : m.short_axis_mm;
  const shortPx = lengthOf(m.points[2], m.points[3], null);
  return `${formatLength(longMm, longPx, source)} × ${formatLength(shortMm, shortPx, source)}`;
}

export function hitHandle(port, event) {
  const rect = port.stage.getBoundingClientRect();
  const x = event.clientX - rect.left, y = event.clientY - rect.top;
  const lay = port.layout();
  for (const m of port.visibleMeasurements()) {
    if (!m.can_edit || !config.canMeasure) continue;
    for (let i = 0; i < m.points.length; i += 1) {
      const p = port.imageToStage(m.points[i], lay);
      if (Math.hypot(p[0] - x, p[1] - y) <= HANDLE_RADIUS + 2) return { measurement: m, handle: i };
    }
  }
  return null;
}

export function hitLine(port, event) {
  const rect = port.stage.getBoundingClientRect();
  const q = [event.clientX - rect.left, event.clientY - rect.top];
  const lay = port.layout();
  for (const m of port.visibleMeasurements()) {
    const pts = m.points.map((p) => port.imageToStage(p, lay));
    const segments = m.kind === "bidirectional" ? [[0, 1], [2, 3]] : [[0, 1]];
    for (const [a, b] of segments) {
      const ab = sub(pts[b], pts[a]);
      const t = Math.max(0, Math.min(1, dot(sub(q, pts[a]), ab) / (dot(ab, ab) || 1)));
      if (norm(sub(q, add(pts[a], mul(ab, t)))) < 5) return m;
    }
  }
  return null;
}

export function moveHandle(port, drag, p) {
  const m = drag.measurement;
  const sp = spacingOf(port.current());
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

export async function save(port, m) {
  const item = port.current();
  try {
    const saved = await send("POST", config.api.measurements, {
      instance: item.instance.id, frame: item.frame, kind: m.kind, points: m.points, label: "",
    });
    port.measurements.push(saved);
    port.selected = saved.id;
    port.viewer.notify(saved.message || "");
    announce(port, "created", saved);
  } catch (error) {
    port.viewer.notify(`Not saved: ${error.message}`);
  }
  port.viewer.renderMeasurementList();
  port.draw();
}

export async function remove(port, id) {
  try {
    await send("DELETE", `${config.api.measurements}${id}/`);
    const gone = port.measurements.find((m) => m.id === id);
    port.measurements = port.measurements.filter((m) => m.id !== id);
    announce(port, "deleted", gone || { id });
    if (port.selected === id) port.selected = null;
  } catch (error) {
    port.viewer.notify(`Not deleted: ${error.message}`);
  }
  port.viewer.renderMeasurementList();
  port.draw();
}
