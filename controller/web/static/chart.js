// A session's power and current over time as hand-drawn SVG: no library, no canvas.
// drawCurve(svg, curve): curve = {t: [s since start], power_w: [...], current_a: [[L1, L2, L3], ...]}.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function svgEl(name, attrs, text) {
  const el = document.createElementNS(SVG_NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

function niceMax(value) {
  if (!(value > 0)) return 1;
  const exp = Math.pow(10, Math.floor(Math.log10(value)));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (value <= step * exp) return step * exp;
  }
  return 10 * exp;
}

function drawCurve(svg, curve) {
  const W = 600, H = 220, L = 44, R = 40, T = 12, B = 28;
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const t = curve.t || [];
  const kw = (curve.power_w || []).map((w) => w / 1000);
  const amps = (curve.current_a || []).map((phases) => Math.max(0, ...phases));
  svg.dataset.points = String(t.length);
  if (t.length === 0) {
    svg.appendChild(svgEl("text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, "no samples yet"));
    return;
  }
  const tMax = Math.max(60, t[t.length - 1]);
  const pMax = niceMax(Math.max(...kw));
  const aMax = niceMax(Math.max(...amps));
  const x = (s) => L + (s / tMax) * (W - L - R);
  const yP = (v) => H - B - (v / pMax) * (H - T - B);
  const yA = (v) => H - B - (v / aMax) * (H - T - B);
  svg.appendChild(svgEl("line", {class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B}));
  svg.appendChild(svgEl("line", {class: "axis", x1: L, y1: T, x2: L, y2: H - B}));
  svg.appendChild(svgEl("line", {class: "axis", x1: W - R, y1: T, x2: W - R, y2: H - B}));
  for (const f of [0, 0.5, 1]) {
    const y = H - B - f * (H - T - B);
    svg.appendChild(svgEl("text", {x: L - 4, y: y + 4, "text-anchor": "end"}, `${+(pMax * f).toFixed(1)}`));
    svg.appendChild(svgEl("text", {x: W - R + 4, y: y + 4}, `${+(aMax * f).toFixed(1)}`));
  }
  const label = (s) => (tMax > 3 * 3600 ? `${(s / 3600).toFixed(1)} h`
    : tMax > 180 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`);
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    svg.appendChild(svgEl("text", {x: x(tMax * f), y: H - 8, "text-anchor": "middle"}, label(tMax * f)));
  }
  svg.appendChild(svgEl("text", {x: L, y: T - 2}, "kW"));
  svg.appendChild(svgEl("text", {x: W - R, y: T - 2, "text-anchor": "end"}, "A"));
  const line = (ys, scale) => t.map((s, i) => `${x(s).toFixed(1)},${scale(ys[i]).toFixed(1)}`).join(" ");
  svg.appendChild(svgEl("polyline", {class: "current", points: line(amps, yA)}));
  svg.appendChild(svgEl("polyline", {class: "power", points: line(kw, yP)}));
}
