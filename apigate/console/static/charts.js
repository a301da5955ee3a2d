// Small SVG charts: bars (usage per day) and lines (live rates), with a text alternative for screen readers.
import { html } from "./ui.js";

const nice = (v) => (v >= 100 ? Math.round(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2).replace(/\.?0+$/, "") || "0");

export function Bars({ label, values, labels = [], width = 320, height = 120, unit = "" }) {
  const max = Math.max(1, ...values);
  const w = width / Math.max(values.length, 1);
  return html`<figure class="chart"><svg width=${width} height=${height + 18} role="img" aria-label=${`${label}: ${values.map((v, i) => `${labels[i] || i}: ${v}${unit}`).join(", ")}`}>
    <line x1="0" y1=${height} x2=${width} y2=${height} class="axis"/>
    ${values.map((v, i) => html`<rect x=${i * w + 2} y=${height - (v / max) * (height - 14)} width=${Math.max(w - 4, 1)} height=${(v / max) * (height - 14)} class="bar"><title>${labels[i] || i}: ${v}${unit}</title></rect>
      ${v ? html`<text x=${i * w + w / 2} y=${height - (v / max) * (height - 14) - 3} text-anchor="middle" class="value">${v}</text>` : ""}`)}
    ${labels.length ? html`<text x="0" y=${height + 14} class="tick">${labels[0]}</text><text x=${width} y=${height + 14} text-anchor="end" class="tick">${labels[labels.length - 1]}</text>` : ""}
  </svg><figcaption>${label}</figcaption></figure>`;
}

// Each series' legend shows its latest value, or its peak with peak=true (rates: the last second is often 0).
export function Lines({ label, series, width = 460, height = 90, unit = "", peak = false }) {
  // series: [{name, values: [number|null], cls}]
  const all = series.flatMap((s) => s.values.filter((v) => v !== null));
  const max = Math.max(1e-9, ...all);
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const x = (i) => (i / (n - 1)) * width;
  const y = (v) => height - (v / max) * (height - 6) - 1;
  const last = series.map((s) => [peak ? `${s.name} peak` : s.name,
    peak ? Math.max(0, ...s.values.filter((v) => v !== null)) : [...s.values].reverse().find((v) => v !== null && v !== undefined) ?? null]);
  return html`<figure class="chart"><svg viewBox=${`0 0 ${width} ${height}`} width="100%" role="img"
      aria-label=${`${label}, latest: ${last.map(([name, v]) => `${name} ${v === null || v === undefined ? "none" : nice(v) + unit}`).join(", ")}`}>
    <line x1="0" y1=${height - 1} x2=${width} y2=${height - 1} class="axis"/>
    <text x="2" y="10" class="tick">${nice(max)}${unit}</text>
    ${series.map((s) => html`<g class=${"line " + (s.cls || "")}><polyline points=${s.values.map((v, i) => (v === null ? null : `${x(i + n - s.values.length)},${y(v)}`)).filter(Boolean).join(" ")}/>
      ${s.values.map((v, i) => (v === null ? "" : html`<circle cx=${x(i + n - s.values.length)} cy=${y(v)} r="1.8"/>`))}</g>`)}
  </svg><figcaption>${label}: ${last.map(([name, v], i) => html`<span class=${"key " + (series[i].cls || "")}>${name} ${v === null || v === undefined ? "—" : nice(v) + unit}</span> `)}</figcaption></figure>`;
}
