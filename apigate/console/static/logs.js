// A function's recent log, followed live. The source is CloudWatch Logs' FilterLogEvents on the function's group
// (/aws/lambda/<name>), polled as `aws logs tail --follow` does: from the newest timestamp seen, duplicates dropped
// by event id. A gateway without the Logs API (UnknownServiceException) leaves the log tails of the invocations
// made from this page (Invoke's LogType=Tail), which the Test tab collects.
import { html, useState, useEffect, useRef, ErrorNote } from "./ui.js";
import { call } from "./api.js";

const WINDOW_MS = 15 * 60 * 1000; // "recent": what the last quarter of an hour logged
const KEEP = 2000; // lines kept on the page

async function filterLogEvents(group, startTime, nextToken) {
  return call("POST", "/", {
    service: "logs",
    keepSession: true, // a gateway without the Logs API may refuse the logs scope: that is no reason to sign out
    headers: { "x-amz-target": "Logs_20140328.FilterLogEvents", "content-type": "application/x-amz-json-1.1" },
    body: { logGroupName: group, startTime, nextToken, limit: 1000 },
  });
}

// Every event since `startTime` (all pages), oldest first; none when the group does not exist yet.
async function eventsSince(group, startTime) {
  const events = [];
  let token;
  for (let page = 0; page < 20; page++) {
    let answer;
    try {
      answer = await filterLogEvents(group, startTime, token);
    } catch (e) {
      if (e.type === "ResourceNotFoundException") return events; // the function has not logged yet
      throw e;
    }
    events.push(...(answer.events || []));
    token = answer.nextToken;
    if (!token) break;
  }
  return events.sort((a, b) => a.timestamp - b.timestamp);
}

// This gateway has no CloudWatch Logs API: it says so (UnknownServiceException), or, under --admin-key, refuses
// a signature scoped to "logs" before it gets that far.
const noLogsApi = (e) =>
  e.type === "UnknownServiceException" || (e.status === 403 && /scoped to correct service/i.test(e.message));

const stamp = (ms) => new Date(ms).toISOString().slice(11, 23);

export function LogStream({ name, runs }) {
  const [mode, setMode] = useState("loading"); // loading | live | tails
  const [lines, setLines] = useState([]);
  const [error, setError] = useState(null);
  const [paused, setPaused] = useState(false);
  const [filter, setFilter] = useState("");
  const state = useRef({ since: Date.now() - WINDOW_MS, seen: new Set(), lines: [] });
  const box = useRef(null);
  useEffect(() => {
    if (paused || mode === "tails") return undefined;
    let live = true, timer = 0;
    const tick = async () => {
      const s = state.current;
      try {
        const fresh = (await eventsSince(`/aws/lambda/${name}`, s.since)).filter((e) => !s.seen.has(e.eventId));
        if (!live) return;
        for (const e of fresh) {
          s.seen.add(e.eventId);
          s.since = Math.max(s.since, e.timestamp); // the same millisecond again next time: ids drop repeats
          s.lines.push({ key: e.eventId, at: e.timestamp, stream: e.logStreamName, text: e.message.replace(/\n$/, "") });
        }
        s.lines = s.lines.slice(-KEEP);
        if (s.seen.size > 4 * KEEP) s.seen = new Set(s.lines.map((l) => l.key));
        setLines(s.lines.slice());
        setMode("live");
        setError(null);
      } catch (e) {
        if (!live) return;
        if (noLogsApi(e)) { setMode("tails"); return; }
        setError(e);
      }
      if (live) timer = setTimeout(tick, 2000);
    };
    tick();
    return () => { live = false; clearTimeout(timer); };
  }, [name, paused, mode === "tails"]);
  const shown = mode === "tails"
    ? runs.slice().reverse().flatMap((r, i) => r.log.replace(/\n$/, "").split("\n").map((text, j) => ({ key: `${i}-${j}`, at: r.at.getTime(), text })))
    : lines;
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const visible = shown.filter((l) => words.every((w) => l.text.toLowerCase().includes(w)));
  useEffect(() => { // follow the end, as a terminal does, unless the reader scrolled up
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 80) el.scrollTop = el.scrollHeight;
  });
  return html`<div class="stack">
    <div class="row log-bar">
      <p class="muted grow" id="log-source">${mode === "live" ? html`Following <code>/aws/lambda/${name}</code>${paused ? " (paused)" : ""}, the last 15 minutes and what comes`
        : mode === "tails" ? "This gateway has no CloudWatch Logs API: shown are the log tails of the invocations made from this page."
        : "Loading the log…"}</p>
      <label class="inline">Filter <input type="search" value=${filter} onInput=${(e) => setFilter(e.target.value)} placeholder="ERROR"/></label>
      ${mode === "tails" ? "" : html`<button type="button" class="small" onClick=${() => setPaused(!paused)} aria-pressed=${paused}>${paused ? "Resume" : "Pause"}</button>`}
    </div>
    <${ErrorNote} error=${error}/>
    <pre class="code log stream" id="log-stream" ref=${box} tabindex="0" aria-label=${`Log of ${name}`}>${visible.map((l) => html`<span key=${l.key}><span class="muted">${stamp(l.at)}</span> ${l.text}${"\n"}</span>`)}</pre>
    ${visible.length === 0 ? html`<p class="muted">${mode === "tails" ? "No invocations from this page yet: run one in the Test tab." : "No log events in the last 15 minutes."}</p>` : ""}
  </div>`;
}
