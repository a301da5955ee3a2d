// Shared pieces: the vendored Preact + htm, and small accessible widgets every page uses.
import { html, render, useState, useEffect, useRef, useMemo, useCallback } from "./vendor/preact-htm.js";

export { html, render, useState, useEffect, useRef, useMemo, useCallback };

// Loads `load()` when `deps` change; returns [value, error, reload].
export function useLoad(load, deps) {
  const [state, setState] = useState({ value: undefined, error: null });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (value) => live && setState({ value, error: null }),
      (error) => live && setState({ value: undefined, error }),
    );
    return () => { live = false; };
  }, [...deps, tick]);
  return [state.value, state.error, () => setTick((t) => t + 1)];
}

// Runs an action, keeping its error and busy state for the form that started it.
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (action) => {
    setBusy(true); setError(null);
    try { return await action(); } catch (e) { setError(e); return undefined; } finally { setBusy(false); }
  };
  return { busy, error, run, setError };
}

export function ErrorNote({ error }) {
  if (!error) return null;
  return html`<p class="error" role="alert">${error.type ? html`<strong>${error.type}</strong>: ` : ""}${error.message || String(error)}</p>`;
}

export function Loading({ what }) {
  return html`<p class="muted" role="status">Loading ${what}…</p>`;
}

export function CopyButton({ text, label = "Copy" }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try { await navigator.clipboard.writeText(text); } catch {
      const area = document.createElement("textarea");
      area.value = text; document.body.append(area); area.select(); document.execCommand("copy"); area.remove();
    }
    setDone(true); setTimeout(() => setDone(false), 1500);
  };
  return html`<button type="button" class="small" onClick=${copy} aria-label=${`${label}: ${text}`}>${done ? "Copied" : label}</button>`;
}

let ids = 0;
// A labelled control: <${Field} label="Name">${(id) => html`<input id=${id} …/>`}<//>
export function Field({ label, hint, children }) {
  const id = useMemo(() => `f${++ids}`, []);
  return html`<div class="field"><label for=${id}>${label}</label>${children(id)}${hint ? html`<small class="muted">${hint}</small>` : ""}</div>`;
}

export function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url; a.download = name; document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function Tabs({ tabs, current, label }) {
  return html`<nav class="tabs" aria-label=${label}>${tabs.map(([href, text]) =>
    html`<a href=${href} aria-current=${current === href ? "page" : undefined}>${text}</a>`)}</nav>`;
}

export function when(ms) {
  if (!ms) return "";
  const d = typeof ms === "number" ? new Date(ms < 1e11 ? ms * 1000 : ms) : new Date(ms);
  return d.toLocaleString();
}

export function Json({ value }) {
  return html`<pre class="code">${typeof value === "string" ? value : JSON.stringify(value, null, 2)}</pre>`;
}
