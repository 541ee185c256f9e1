// Image-plane geometry for calipers: pixel <-> mm, and the bidirectional (RECIST) measurement frame.

export function spacingOf(item) {
  // [row mm, column mm] or null, for live lengths while drawing (the server's value replaces it).
  if (item.frameSpacing) return item.frameSpacing;
  return item.instance.pixel_spacing;
}

export function physical(p, sp) { return sp ? [p[0] * sp[1], p[1] * sp[0]] : [p[0], p[1]]; }
export function fromPhysical(q, sp) { return sp ? [q[0] / sp[1], q[1] / sp[0]] : [q[0], q[1]]; }
export function sub(a, b) { return [a[0] - b[0], a[1] - b[1]]; }
export function add(a, b) { return [a[0] + b[0], a[1] + b[1]]; }
export function mul(a, k) { return [a[0] * k, a[1] * k]; }
export function dot(a, b) { return a[0] * b[0] + a[1] * b[1]; }
export function norm(a) { return Math.hypot(a[0], a[1]); }
export function round3(p) { return [Math.round(p[0] * 1000) / 1000, Math.round(p[1] * 1000) / 1000]; }

export function lengthOf(p1, p2, sp) { return norm(sub(physical(p2, sp), physical(p1, sp))); }

// A bidirectional measurement as long axis A-B plus the short axis described by where it
// crosses (t along A-B) and how far each end lies on either side (d1, d2), in physical space
// so that "perpendicular" means perpendicular in the patient even with non-square pixels.
export function bidiFrame(points, sp) {
  const A = physical(points[0], sp), B = physical(points[1], sp);
  const L = norm(sub(B, A)) || 1;
  const u = mul(sub(B, A), 1 / L), v = [-u[1], u[0]];
  return { A, B, L, u, v };
}

export function bidiParams(points, sp) {
  const f = bidiFrame(points, sp);
  const P3 = physical(points[2], sp), P4 = physical(points[3], sp);
  const t = dot(sub(P3, f.A), f.u) / f.L;
  return { t, d1: dot(sub(P3, f.A), f.v), d2: -dot(sub(P4, f.A), f.v) };
}

export function bidiPoints(longAxis, params, sp) {
  const f = bidiFrame([longAxis[0], longAxis[1]], sp);
  const C = add(f.A, mul(f.u, params.t * f.L));
  const P3 = add(C, mul(f.v, params.d1)), P4 = sub(C, mul(f.v, params.d2));
  return [longAxis[0], longAxis[1], fromPhysical(P3, sp), fromPhysical(P4, sp)].map(round3);
}

export function formatLength(mm, px, source) {
  if (mm === null || mm === undefined) return `${px.toFixed(1)} px`;
  return `${mm.toFixed(1)} mm${source === "ImagerPixelSpacing" ? "*" : ""}`;
}
