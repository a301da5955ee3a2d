// Watch: live data plane requests of REST, HTTP and WebSocket APIs (GET /_apigate/requests) and per-stage rate,
// error rate and latency charts (totals from the counters of GET /_apigate/metrics, rates and percentiles from the
// recent request lines). A WebSocket line's "method" is its event (CONNECT, MESSAGE, DISCONNECT), its path the route.
import { html, useState, useEffect, useRef, ErrorNote } from "./ui.js";
import { call } from "./api.js";
import { Lines } from "./charts.js";

const POINTS = 60;
const LINE = /^apigateway_(\w+)\{ApiName="((?:[^"\\]|\\.)*)",ApiId="([^"]*)",Stage="([^"]*)"\} ([\d.]+)$/;

export function parseMetrics(text) {
  const stages = {};
  for (const line of text.split("\n")) {
    const m = LINE.exec(line);
    if (!m) continue;
    const key = `${m[3]}/${m[4]}`;
    (stages[key] ||= { apiName: m[2].replace(/\\(.)/g, "$1"), apiId: m[3], stage: m[4] })[m[1]] = Number(m[5]);
  }
  return stages;
}

const percentile = (sorted, q) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null);

// Per stage, the last minute second by second (from the request lines) and the totals (from the counters).
export function stageSeries(stages, lines, now) {
  const out = {};
  const end = Math.floor(now);
  for (const [key, totals] of Object.entries(stages)) {
    const buckets = Array.from({ length: POINTS }, () => ({ count: 0, errors: 0, throttled: 0, latency: [] }));
    for (const l of lines) {
      const at = end - Math.floor(l.time);
      if (`${l.apiId}/${l.stage}` !== key || at < 0 || at >= POINTS) continue;
      const b = buckets[POINTS - 1 - at];
      b.count += 1;
      if (l.status >= 400) b.errors += 1;
      if (l.status === 429) b.throttled += 1;
      b.latency.push(l.latencyMs);
    }
    buckets.forEach((b) => b.latency.sort((x, y) => x - y));
    // WebSocket stages have their own counters; REST and HTTP share theirs, told apart by their lines.
    const seen = lines.findLast((l) => `${l.apiId}/${l.stage}` === key);
    const kind = totals.MessageCount !== undefined ? "WEBSOCKET" : seen?.kind || "REST";
    out[key] = {
      ...totals, totals, kind,
      rate: buckets.map((b) => b.count),
      throttled: buckets.map((b) => b.throttled),
      errors: buckets.map((b) => (b.count ? (100 * b.errors) / b.count : null)),
      p50: buckets.map((b) => percentile(b.latency, 0.5)),
      p95: buckets.map((b) => percentile(b.latency, 0.95)),
      p99: buckets.map((b) => percentile(b.latency, 0.99)),
    };
  }
  return out;
}

const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function summary(t, kind) {
  if (kind === "WEBSOCKET") {
    return [count(t.ConnectCount, "connection", "connections"), count(t.MessageCount, "message", "messages"),
      count(t.ClientError, "client error", "client errors"),
      count(t.IntegrationError + t.ExecutionError, "integration error", "integration errors")].join(" · ");
  }
  return `${count(t.Count, "request", "requests")} · ${t["4XXError"]} 4XX · ${t["5XXError"]} 5XX · ${t.ThrottledCount} throttled`;
}

const KINDS = { REST: "REST", HTTP: "HTTP", WEBSOCKET: "WebSocket" };

export function WatchPage() {
  const [lines, setLines] = useState([]);
  const [series, setSeries] = useState({});
  const [error, setError] = useState(null);
  const [paused, setPaused] = useState(false);
  const [filter, setFilter] = useState("");
  const state = useRef({ seq: 0, lines: [] });
  useEffect(() => {
    if (paused) return undefined;
    let live = true, timer = 0;
    const tick = async () => {
      try {
        const [metrics, recent] = await Promise.all([
          call("GET", "/_apigate/metrics", { raw: true }),
          call("GET", "/_apigate/requests", { query: { after: state.current.seq } }),
        ]);
        if (!live) return;
        const s = state.current, stages = parseMetrics(metrics);
        s.seq = recent.seq;
        s.lines = [...s.lines, ...recent.lines].slice(-2000);
        setLines(s.lines);
        setSeries(stageSeries(stages, s.lines, Date.now() / 1000));
        setError(null);
      } catch (e) { if (live) setError(e); }
      if (live) timer = setTimeout(tick, 1000);
    };
    tick();
    return () => { live = false; clearTimeout(timer); };
  }, [paused]);
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const shown = lines.slice().reverse().filter((l) => {
    const text = `${l.method} ${l.path} ${l.status} ${l.apiId} ${l.stage} ${l.error} ${KINDS[l.kind] || ""}`.toLowerCase();
    return words.every((w) => text.includes(w));
  }).slice(0, 200);
  return html`<div class="row"><h1 tabindex="-1">Watch</h1>
      <button onClick=${() => setPaused(!paused)} aria-pressed=${paused}>${paused ? "Resume" : "Pause"}</button></div>
    <${ErrorNote} error=${error}/>
    <section aria-labelledby="stage-charts"><h2 id="stage-charts">Stages</h2>
      <div class="stage-cards">${Object.entries(series).map(([key, s]) => html`<div class="card" key=${key}>
        <h3>${s.apiName} · ${s.stage} <span class=${"badge " + s.kind}>${KINDS[s.kind]}</span> <code>${s.apiId}</code></h3>
        <p class="muted">${summary(s.totals, s.kind)}</p>
        <${Lines} label=${s.kind === "WEBSOCKET" ? "Connections and messages per second, last minute" : "Requests per second, last minute"} peak=${true}
          series=${[{ name: s.kind === "WEBSOCKET" ? "msg/s" : "req/s", values: s.rate }, { name: "429/s", values: s.throttled, cls: "bad" }]}/>
        <${Lines} label="Latency" unit=" ms" series=${[{ name: "p50", values: s.p50 }, { name: "p95", values: s.p95, cls: "warn" }, { name: "p99", values: s.p99, cls: "bad" }]}/>
        <${Lines} label="Error rate" unit="%" series=${[{ name: "errors", values: s.errors, cls: "bad" }]}/>
      </div>`)}</div>
      ${Object.keys(series).length === 0 ? html`<p class="muted">No requests to a stage yet.</p>` : ""}
    </section>
    <section aria-labelledby="live-heading">
      <div class="row"><h2 id="live-heading">Live requests</h2>
        <label class="inline">Filter <input type="search" value=${filter} onInput=${(e) => setFilter(e.target.value)} placeholder="429 GET /hello"/></label></div>
      <table class="list live" id="live-table"><thead><tr><th scope="col">Time</th><th scope="col">API · stage</th><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Latency</th><th scope="col">Error</th></tr></thead>
        <tbody>${shown.map((l) => html`<tr key=${l.seq}><td>${new Date(l.time * 1000).toLocaleTimeString()}</td><td><span class=${"badge " + l.kind}>${KINDS[l.kind] || l.kind}</span> <code>${l.apiId}</code> ${l.stage}</td>
          <td><code>${l.method} ${l.path}</code></td><td><span class=${"status s" + String(l.status)[0]}>${l.status}</span></td><td>${l.latencyMs} ms</td><td>${l.error}</td></tr>`)}
        ${shown.length === 0 ? html`<tr><td colspan="6" class="muted">Waiting for requests…</td></tr>` : ""}</tbody></table>
    </section>`;
}
