// A VTL (Velocity) mapping template editor: a textarea over a highlighted copy of its text. The tokenizer knows
// what API Gateway templates use: directives, $references (with ${…} and calls), strings, comments, numbers.
import { html, useRef } from "./ui.js";

const TOKEN = new RegExp(
  [
    "(?<comment>##[^\\n]*|#\\*[\\s\\S]*?(?:\\*#|$))",
    "(?<directive>#\\{?(?:if|elseif|else|end|foreach|set|break|stop|return|define|macro|include|parse)\\b\\}?)",
    "(?<reference>\\$!?\\{?[A-Za-z_][\\w-]*(?:\\.[A-Za-z_]\\w*(?:\\([^()]*\\))?|\\[[^\\]]*\\])*\\}?)",
    "(?<string>\"(?:[^\"\\\\\\n]|\\\\.)*\"?|'(?:[^'\\\\\\n]|\\\\.)*'?)",
    "(?<number>-?\\b\\d+(?:\\.\\d+)?\\b)",
    "(?<keyword>\\b(?:true|false|null|in|and|or|not|eq|ne|lt|gt|le|ge)\\b)",
  ].join("|"),
  "g",
);

export function tokens(text) {
  const out = [];
  let at = 0;
  for (const match of text.matchAll(TOKEN)) {
    if (match.index > at) out.push(["plain", text.slice(at, match.index)]);
    const kind = Object.entries(match.groups).find(([, v]) => v !== undefined)[0];
    out.push([kind, match[0]]);
    at = match.index + match[0].length;
  }
  if (at < text.length) out.push(["plain", text.slice(at)]);
  return out;
}

export function VtlEditor({ id, value, onInput, label, rows = 10 }) {
  const back = useRef(null);
  const sync = (event) => {
    if (back.current) { back.current.scrollTop = event.target.scrollTop; back.current.scrollLeft = event.target.scrollLeft; }
  };
  // Tab inserts two spaces; Escape then Tab leaves the editor (the keyboard is never trapped).
  const keys = (event) => {
    if (event.key === "Tab" && !event.shiftKey && !event.target.dataset.escaped) {
      event.preventDefault();
      const area = event.target, start = area.selectionStart;
      area.setRangeText("  ", start, area.selectionEnd, "end");
      onInput(area.value);
    }
    event.target.dataset.escaped = event.key === "Escape" ? "1" : "";
  };
  return html`<div class="vtl"><div class="vtl-area">
    <pre class="vtl-back" aria-hidden="true" ref=${back}>${tokens(value + "\n").map(([kind, text]) =>
      kind === "plain" ? text : html`<span class=${"t-" + kind}>${text}</span>`)}</pre>
    <textarea id=${id} class="vtl-front" spellcheck="false" rows=${rows} value=${value} aria-label=${label}
      aria-describedby=${id + "-help"} onInput=${(e) => { onInput(e.target.value); sync(e); }} onScroll=${sync} onKeyDown=${keys}></textarea></div>
    <small id=${id + "-help"} class="muted">VTL. Tab indents; press Escape, then Tab, to leave the editor.</small>
  </div>`;
}
