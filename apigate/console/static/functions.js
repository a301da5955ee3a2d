// Functions (Lambda's API): list, create from inline code, code view and edit, configuration, environment,
// test invoke with a payload and the log tail of each invocation, the recent log followed live (logs.js).
import { html, useState, useLoad, useAction, ErrorNote, Loading, Field, Json, when } from "./ui.js";
import { call, p, listAll, config } from "./api.js";
import { zipBase64, readZip } from "./zip.js";
import { LogStream } from "./logs.js";

// Node.js needs a gateway with the Node.js runtime; apigate says so when it has none.
const RUNTIMES = ["python3.12", "python3.11", "python3.13", "nodejs20.x", "nodejs22.x"];
const SAMPLES = {
  python: { file: "lambda_function.py", handler: "lambda_function.lambda_handler", code:
`import json


def lambda_handler(event, context):
    name = (event.get("pathParameters") or {}).get("name", "world")
    print(f"saying hello to {name}")
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": f"Hello, {name}!"})}
` },
  nodejs: { file: "index.mjs", handler: "index.handler", code:
`export const handler = async (event) => {
  const name = event.pathParameters?.name ?? "world";
  console.log(\`saying hello to \${name}\`);
  return { statusCode: 200, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ message: \`Hello, \${name}!\` }) };
};
` },
};
const family = (runtime) => (runtime.startsWith("node") ? "nodejs" : "python");

function CreateFunction() {
  const [runtime, setRuntime] = useState(RUNTIMES[0]);
  const sample = SAMPLES[family(runtime)];
  const [code, setCode] = useState(null);
  const action = useAction();
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const name = form.get("name").trim();
    action.run(async () => {
      await call("POST", "/2015-03-31/functions", { body: {
        FunctionName: name, Runtime: runtime, Handler: form.get("handler") || sample.handler,
        Role: `arn:aws:iam::${config.accountId}:role/lambda-role`,
        Code: { ZipFile: await zipBase64({ [sample.file]: code ?? sample.code }) },
        Timeout: Number(form.get("timeout")) || 3,
      } });
      location.hash = `#/functions/${encodeURIComponent(name)}`;
    });
  };
  return html`<form class="card stack" onSubmit=${submit} aria-labelledby="create-function">
    <h2 id="create-function">Create a function</h2>
    <${Field} label="Function name">${(id) => html`<input id=${id} name="name" required pattern="[A-Za-z0-9_\\-]{1,64}"/>`}<//>
    <${Field} label="Runtime">${(id) => html`<select id=${id} name="runtime" value=${runtime} onChange=${(e) => { setRuntime(e.target.value); setCode(null); }}>
      ${RUNTIMES.map((r) => html`<option value=${r}>${r}</option>`)}</select>`}<//>
    <${Field} label="Handler">${(id) => html`<input id=${id} name="handler" value=${sample.handler} key=${sample.handler}/>`}<//>
    <${Field} label="Timeout (seconds)">${(id) => html`<input id=${id} name="timeout" type="number" min="1" max="900" value="3"/>`}<//>
    <${Field} label=${`Code (${sample.file})`}>${(id) => html`<textarea id=${id} name="code" class="code" rows="10" spellcheck="false"
      value=${code ?? sample.code} onInput=${(e) => setCode(e.target.value)}></textarea>`}<//>
    <button type="submit" disabled=${action.busy}>Create function</button>
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

export function FunctionsPage() {
  const [list, error, reload] = useLoad(() => listAll("/2015-03-31/functions", "Functions"), []);
  const action = useAction();
  const remove = (name) => confirm(`Delete function ${name}?`) && action.run(async () => {
    await call("DELETE", p`/2015-03-31/functions/${name}`); reload();
  });
  return html`<h1 tabindex="-1">Functions</h1>
    <div class="columns">
      <section class="grow" aria-labelledby="functions-list">
        <h2 id="functions-list">Your functions ${list ? html`<span class="count">${list.length}</span>` : ""}</h2>
        <${ErrorNote} error=${error || action.error}/>
        ${list === undefined && !error ? html`<${Loading} what="functions"/>` : html`
        <table class="list" id="functions-table"><thead><tr><th scope="col">Name</th><th scope="col">Runtime</th><th scope="col">Handler</th><th scope="col">Size</th><th scope="col">Modified</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
          <tbody>${list.map((f) => html`<tr key=${f.FunctionName}><th scope="row"><a href=${`#/functions/${encodeURIComponent(f.FunctionName)}`}>${f.FunctionName}</a></th>
            <td>${f.Runtime}</td><td><code>${f.Handler}</code></td><td>${(f.CodeSize / 1024).toFixed(1)} KiB</td><td>${when(f.LastModified)}</td>
            <td><button class="small danger" aria-label=${`Delete ${f.FunctionName}`} onClick=${() => remove(f.FunctionName)}>Delete</button></td></tr>`)}
          ${list.length === 0 ? html`<tr><td colspan="6" class="muted">No functions yet.</td></tr>` : ""}</tbody></table>`}
      </section>
      <aside class="side"><${CreateFunction}/></aside>
    </div>`;
}

function CodeView({ name, fn, reload }) {
  const [files, error] = useLoad(async () => {
    if (!fn.Code?.Location) return {};
    const answer = await fetch(fn.Code.Location, { credentials: "omit" });
    if (!answer.ok) throw new Error(`could not read the code (${answer.status})`);
    return readZip(await answer.arrayBuffer());
  }, [fn.Configuration.CodeSha256]);
  const [edited, setEdited] = useState(null);
  const [open, setOpen] = useState(null);
  const action = useAction();
  if (error) return html`<${ErrorNote} error=${error}/>`;
  if (!files) return html`<${Loading} what="the code"/>`;
  const names = Object.keys(files).sort();
  const shown = open || names.find((n) => fn.Configuration.Handler && n.startsWith(fn.Configuration.Handler.split(".")[0])) || names[0];
  const editable = names.length === 1 && files[shown] !== null;
  const save = () => action.run(async () => {
    await call("PUT", p`/2015-03-31/functions/${name}/code`, { body: { ZipFile: await zipBase64({ [shown]: edited }) } });
    setEdited(null); reload();
  });
  return html`<div class="stack">
    ${names.length > 1 ? html`<div class="row" role="group" aria-label="Files">${names.map((n) => html`<button class="small" aria-pressed=${n === shown} onClick=${() => setOpen(n)}>${n}</button>`)}</div>` : ""}
    <label for="code-view">${shown}${editable ? "" : " (read-only: a zip of several files)"}</label>
    <textarea id="code-view" class="code" rows="16" spellcheck="false" readonly=${!editable}
      value=${edited ?? files[shown] ?? "(too large to show)"} onInput=${(e) => setEdited(e.target.value)}></textarea>
    ${editable ? html`<div class="row"><button onClick=${save} disabled=${edited === null || action.busy}>Deploy code</button>${edited !== null ? html`<span class="muted">Unsaved changes</span>` : ""}</div>` : ""}
    <${ErrorNote} error=${action.error}/>
  </div>`;
}

function Configuration({ name, conf, reload }) {
  const [env, setEnv] = useState(() => Object.entries(conf.Environment?.Variables || {}));
  const action = useAction();
  const [saved, setSaved] = useState(false);
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    action.run(async () => {
      await call("PUT", p`/2015-03-31/functions/${name}/configuration`, { body: {
        Handler: form.get("handler"), Timeout: Number(form.get("timeout")), MemorySize: Number(form.get("memory")),
        Description: form.get("description"), Environment: { Variables: Object.fromEntries(env.filter(([k]) => k)) },
      } });
      setSaved(true); reload();
    });
  };
  return html`<form class="stack" onSubmit=${submit} aria-label="Configuration">
    <div class="grid2">
      <${Field} label="Handler">${(id) => html`<input id=${id} name="handler" value=${conf.Handler}/>`}<//>
      <${Field} label="Description">${(id) => html`<input id=${id} name="description" value=${conf.Description || ""}/>`}<//>
      <${Field} label="Timeout (seconds)">${(id) => html`<input id=${id} name="timeout" type="number" min="1" max="900" value=${conf.Timeout}/>`}<//>
      <${Field} label="Memory (MB)">${(id) => html`<input id=${id} name="memory" type="number" min="128" max="10240" value=${conf.MemorySize}/>`}<//>
    </div>
    <fieldset class="kv"><legend>Environment variables</legend>
      ${[...env, ["", ""]].map(([k, v], i) => html`<div class="row" key=${i}>
        <input aria-label=${`Environment variable ${i + 1} name`} placeholder="KEY" value=${k} onChange=${(e) => { const n = env.slice(); n[i] = [e.target.value, v]; setEnv(n); }}/>
        <input aria-label=${`Environment variable ${i + 1} value`} placeholder="value" value=${v} onChange=${(e) => { const n = env.slice(); n[i] = [k, e.target.value]; setEnv(n); }}/></div>`)}
    </fieldset>
    <button type="submit" disabled=${action.busy}>Save configuration</button>
    ${saved ? html`<p class="ok" role="status">Saved.</p>` : ""}
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

function decodeLog(value) {
  try { return new TextDecoder().decode(Uint8Array.from(atob(value || ""), (c) => c.charCodeAt(0))); } catch { return ""; }
}

function TestInvoke({ name, runs, setRuns }) {
  const [payload, setPayload] = useState('{\n  "pathParameters": {"name": "console"}\n}');
  const action = useAction();
  const invoke = (event) => {
    event.preventDefault();
    action.run(async () => {
      const started = performance.now();
      const answer = await call("POST", p`/2015-03-31/functions/${name}/invocations`,
        { body: payload || "{}", headers: { "x-amz-log-type": "Tail" }, raw: true, full: true });
      setRuns([{ at: new Date(), ms: Math.round(performance.now() - started), status: answer.status,
        error: answer.headers.get("x-amz-function-error"), result: answer.value,
        log: decodeLog(answer.headers.get("x-amz-log-result")) }, ...runs].slice(0, 20));
    });
  };
  return html`<div class="stack">
    <form class="stack" onSubmit=${invoke} aria-label="Test invoke">
      <${Field} label="Event (JSON)">${(id) => html`<textarea id=${id} class="code" rows="6" spellcheck="false" value=${payload} onInput=${(e) => setPayload(e.target.value)}></textarea>`}<//>
      <button type="submit" disabled=${action.busy}>Invoke</button>
    </form>
    <${ErrorNote} error=${action.error}/>
    <h3>Recent invocations and their logs</h3>
    <ol class="runs" aria-live="polite">${runs.map((r) => html`<li>
      <p><span class=${"status " + (r.error ? "s5" : "s2")}>${r.error ? `${r.error} error` : "Succeeded"}</span> ${r.at.toLocaleTimeString()} · ${r.ms} ms</p>
      <${Json} value=${r.result}/><pre class="code log">${r.log}</pre></li>`)}</ol>
    ${runs.length === 0 ? html`<p class="muted">No invocations from this page yet.</p>` : ""}
  </div>`;
}

export function FunctionPage({ name }) {
  const [fn, error, reload] = useLoad(() => call("GET", p`/2015-03-31/functions/${name}`), [name]);
  const [tab, setTab] = useState("code");
  const [runs, setRuns] = useState([]); // this page's test invocations: the Test tab shows them, Logs may too
  if (error) return html`<h1 tabindex="-1">${name}</h1><${ErrorNote} error=${error}/>`;
  if (!fn) return html`<h1 tabindex="-1">${name}</h1><${Loading} what="the function"/>`;
  const conf = fn.Configuration;
  const tabs = [["code", "Code"], ["test", "Test"], ["logs", "Logs"], ["configuration", "Configuration"]];
  return html`<div class="row"><h1 tabindex="-1">${name}</h1><span class="badge">${conf.Runtime}</span></div>
    <p class="muted"><code>${conf.FunctionArn}</code> · ${conf.MemorySize} MB · ${conf.Timeout} s · modified ${when(conf.LastModified)}</p>
    <div role="tablist" aria-label="Function" class="tabs">${tabs.map(([key, text]) => html`<button role="tab" id=${"tab-" + key}
      aria-selected=${tab === key} aria-controls=${"panel-" + key} tabindex=${tab === key ? 0 : -1} onClick=${() => setTab(key)}
      onKeyDown=${(e) => { const i = tabs.findIndex(([k]) => k === key); const d = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
        if (d) { const next = tabs[(i + d + tabs.length) % tabs.length][0]; setTab(next); setTimeout(() => document.getElementById("tab-" + next)?.focus()); } }}>${text}</button>`)}</div>
    <section class="card" role="tabpanel" id=${"panel-" + tab} aria-labelledby=${"tab-" + tab}>
      ${tab === "code" ? html`<${CodeView} name=${name} fn=${fn} reload=${reload}/>` : ""}
      ${tab === "test" ? html`<${TestInvoke} name=${name} runs=${runs} setRuns=${setRuns}/>` : ""}
      ${tab === "logs" ? html`<${LogStream} name=${name} runs=${runs}/>` : ""}
      ${tab === "configuration" ? html`<${Configuration} name=${name} conf=${conf} reload=${reload}/>` : ""}
    </section>`;
}
