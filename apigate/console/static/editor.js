// The REST API editor: the resource tree, each method laid out as AWS's method-execution diagram, the
// integration with its mapping templates, the "Test" panel (TestInvokeMethod) and authorizers.
import { html, useState, useEffect, useLoad, useAction, ErrorNote, Loading, Field, Tabs, Json } from "./ui.js";
import { call, p, listAll, lambdaUri, functionFromUri } from "./api.js";
import { VtlEditor } from "./vtl.js";

const VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];

function tree(resources) {
  const byParent = {};
  for (const r of resources) (byParent[r.parentId || ""] ||= []).push(r);
  for (const list of Object.values(byParent)) list.sort((a, b) => a.path.localeCompare(b.path));
  const out = [];
  const walk = (parent, depth) => (byParent[parent] || []).forEach((r) => { out.push([r, depth]); walk(r.id, depth + 1); });
  walk("", 0);
  return out;
}

function ResourceTree({ apiId, resources, selected, method, reload }) {
  const action = useAction();
  const [adding, setAdding] = useState(false);
  const current = resources.find((r) => r.id === selected) || resources.find((r) => r.path === "/");
  const addResource = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    action.run(async () => {
      const made = await call("POST", p`/restapis/${apiId}/resources/${form.get("parent")}`, { body: { pathPart: form.get("pathPart").trim() } });
      setAdding(false); reload();
      location.hash = `#/apis/${apiId}/resources/${made.id}`;
    });
  };
  const removeResource = () => {
    if (!current || current.path === "/" || !confirm(`Delete ${current.path} and everything below it?`)) return;
    action.run(async () => { await call("DELETE", p`/restapis/${apiId}/resources/${current.id}`); reload(); location.hash = `#/apis/${apiId}`; });
  };
  return html`<nav class="tree card" aria-labelledby="resources-heading">
    <h2 id="resources-heading">Resources</h2>
    <ul aria-label="Resources">${tree(resources).map(([r, depth]) => html`
      <li style=${`--depth:${depth}`}>
        <a href=${`#/apis/${apiId}/resources/${r.id}`} class="path" aria-current=${r.id === current?.id && !method ? "page" : undefined}
          aria-label=${r.path}>${depth ? "/" + r.pathPart : "/"}</a>
        ${Object.keys(r.resourceMethods || {}).sort().map((m) => html`
          <a href=${`#/apis/${apiId}/resources/${r.id}/${m}`} class=${"verb " + m} aria-current=${r.id === current?.id && method === m ? "page" : undefined}
            aria-label=${`${m} ${r.path}`}>${m}</a>`)}
      </li>`)}</ul>
    <div class="row">
      <button class="small" onClick=${() => setAdding(!adding)} aria-expanded=${adding}>Create resource</button>
      ${current && current.path !== "/" ? html`<button class="small danger" onClick=${removeResource}>Delete ${current.path}</button>` : ""}
    </div>
    ${adding ? html`<form onSubmit=${addResource} class="stack" aria-label="Create resource">
      <${Field} label="Parent">${(id) => html`<select id=${id} name="parent">${tree(resources).map(([r]) =>
        html`<option value=${r.id} selected=${r.id === current?.id}>${r.path}</option>`)}</select>`}<//>
      <${Field} label="Resource path part" hint="A literal (pets), a parameter ({name}) or a greedy parameter ({proxy+})">${(id) =>
        html`<input id=${id} name="pathPart" required pattern="[A-Za-z0-9._\\-:]+|\\{[A-Za-z0-9._\\-]+\\+?\\}" autofocus/>`}<//>
      <button type="submit" disabled=${action.busy}>Create</button>
    </form>` : ""}
    <${ErrorNote} error=${action.error}/>
  </nav>`;
}

function ResourcePanel({ apiId, resource, reload }) {
  const action = useAction();
  const existing = Object.keys(resource.resourceMethods || {});
  const add = (event) => {
    event.preventDefault();
    const verb = new FormData(event.target).get("verb");
    action.run(async () => {
      await call("PUT", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}`, { body: { authorizationType: "NONE" } });
      reload();
      location.hash = `#/apis/${apiId}/resources/${resource.id}/${verb}`;
    });
  };
  return html`<section class="card" aria-labelledby="resource-heading">
    <h2 id="resource-heading">Resource <code>${resource.path}</code></h2>
    <p class="muted">ID <code>${resource.id}</code>. ${existing.length ? `Methods: ${existing.join(", ")}.` : "No methods yet."}</p>
    <form class="row" onSubmit=${add} aria-label="Create method">
      <${Field} label="Create method">${(id) => html`<select id=${id} name="verb">${VERBS.filter((v) => !existing.includes(v)).map((v) => html`<option value=${v}>${v}</option>`)}</select>`}<//>
      <button type="submit" disabled=${action.busy}>Create method</button>
    </form>
    <${ErrorNote} error=${action.error}/>
  </section>`;
}

function KeyValues({ label, value, onChange, keyLabel = "Name", valueLabel = "Value" }) {
  const rows = Object.entries(value || {});
  const set = (i, k, v) => {
    const next = rows.slice();
    if (i === rows.length) next.push([k, v]); else next[i] = [k, v];
    onChange(Object.fromEntries(next.filter(([key]) => key !== "")));
  };
  return html`<fieldset class="kv"><legend>${label}</legend>
    ${[...rows, ["", ""]].map(([k, v], i) => html`<div class="row" key=${i}>
      <input aria-label=${`${label}: ${keyLabel} ${i + 1}`} placeholder=${keyLabel} value=${k} onChange=${(e) => set(i, e.target.value, v)}/>
      <input aria-label=${`${label}: ${valueLabel} ${i + 1}`} placeholder=${valueLabel} value=${String(v)} onChange=${(e) => set(i, k, e.target.value)}/>
    </div>`)}
  </fieldset>`;
}

function MethodRequest({ apiId, resource, verb, method, authorizers, validators, saved }) {
  const [form, setForm] = useState(() => ({
    authorizationType: method.authorizationType || "NONE",
    authorizerId: method.authorizerId || "",
    apiKeyRequired: !!method.apiKeyRequired,
    requestValidatorId: method.requestValidatorId || "",
    requestParameters: method.requestParameters || {},
    requestModels: method.requestModels || {},
  }));
  const action = useAction();
  const save = (event) => {
    event.preventDefault();
    const ops = [
      ["/authorizationType", form.authorizationType],
      ["/authorizerId", form.authorizerId || null],
      ["/apiKeyRequired", String(form.apiKeyRequired)],
      ["/requestValidatorId", form.requestValidatorId || null],
    ].filter(([path, v]) => v !== null || method[path.slice(1)]).map(([path, v]) => (v === null ? { op: "remove", path } : { op: "replace", path, value: v }));
    for (const name of Object.keys(method.requestParameters || {})) if (!(name in form.requestParameters)) ops.push({ op: "remove", path: `/requestParameters/${name}` });
    for (const [name, req] of Object.entries(form.requestParameters)) {
      const value = String(req === true || req === "true");
      ops.push({ op: name in (method.requestParameters || {}) ? "replace" : "add", path: `/requestParameters/${name}`, value });
    }
    for (const [type, model] of Object.entries(form.requestModels)) {
      ops.push({ op: type in (method.requestModels || {}) ? "replace" : "add", path: `/requestModels/${type.replace("/", "~1")}`, value: model });
    }
    action.run(async () => {
      await call("PATCH", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}`, { body: { patchOperations: ops } });
      saved();
    });
  };
  const up = (k) => (e) => setForm({ ...form, [k]: e.target.type === "checkbox" ? e.target.checked : e.target.value });
  return html`<form class="stack" onSubmit=${save} aria-label="Method request">
    <${Field} label="Authorization">${(id) => html`<select id=${id} value=${form.authorizationType} onChange=${up("authorizationType")}>
      ${["NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"].map((t) => html`<option value=${t}>${t}</option>`)}</select>`}<//>
    ${form.authorizationType === "CUSTOM" || form.authorizationType === "COGNITO_USER_POOLS" ? html`
      <${Field} label="Authorizer">${(id) => html`<select id=${id} value=${form.authorizerId} onChange=${up("authorizerId")}>
        <option value="">(choose)</option>${authorizers.map((a) => html`<option value=${a.id}>${a.name} (${a.type})</option>`)}</select>`}<//>` : ""}
    <label class="check"><input type="checkbox" checked=${form.apiKeyRequired} onChange=${up("apiKeyRequired")}/> API key required</label>
    <${Field} label="Request validator">${(id) => html`<select id=${id} value=${form.requestValidatorId} onChange=${up("requestValidatorId")}>
      <option value="">None</option>${validators.map((v) => html`<option value=${v.id}>${v.name}</option>`)}</select>`}<//>
    <${KeyValues} label="Request parameters (method.request.…: required)" keyLabel="method.request.querystring.name" valueLabel="true/false"
      value=${form.requestParameters} onChange=${(v) => setForm({ ...form, requestParameters: v })}/>
    <${KeyValues} label="Request models" keyLabel="Content type" valueLabel="Model name"
      value=${form.requestModels} onChange=${(v) => setForm({ ...form, requestModels: v })}/>
    <button type="submit" disabled=${action.busy}>Save method request</button>
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

const INTEGRATION_TYPES = [
  ["AWS_PROXY", "Lambda proxy"], ["AWS", "Lambda (custom, with mapping templates)"],
  ["HTTP_PROXY", "HTTP proxy"], ["HTTP", "HTTP (with mapping templates)"], ["MOCK", "Mock"],
];

function IntegrationRequest({ apiId, resource, verb, method, integration, functions, saved }) {
  const [done, setDone] = useState(false);
  const [type, setType] = useState(integration?.type || "AWS_PROXY");
  const [fn, setFn] = useState(functionFromUri(integration?.uri) || functions[0] || "");
  const [uri, setUri] = useState(integration && !integration.type?.startsWith("AWS") ? integration.uri || "" : "https://");
  const [httpMethod, setHttpMethod] = useState(integration?.httpMethod || "GET");
  const [passthrough, setPassthrough] = useState(integration?.passthroughBehavior || "WHEN_NO_MATCH");
  const [templates, setTemplates] = useState(() => ({ ...(integration?.requestTemplates || {}) }));
  const [contentType, setContentType] = useState(Object.keys(integration?.requestTemplates || {})[0] || "application/json");
  const action = useAction();
  const lambda = type === "AWS" || type === "AWS_PROXY";
  const save = (event) => {
    event.preventDefault();
    const body = { type, passthroughBehavior: passthrough };
    if (lambda) { body.uri = lambdaUri(fn); body.httpMethod = "POST"; }
    else if (type !== "MOCK") { body.uri = uri; body.httpMethod = httpMethod; }
    if (type === "AWS" || type === "HTTP" || type === "MOCK") body.requestTemplates = templates;
    action.run(async () => {
      await call("PUT", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}/integration`, { body });
      // PutIntegration replaces the integration with its responses: put the ones it had back.
      if (!type.endsWith("PROXY")) {
        for (const [status, r] of Object.entries(integration?.integrationResponses || {})) {
          const { selectionPattern, responseTemplates, responseParameters, contentHandling } = r;
          await call("PUT", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}/integration/responses/${status}`,
            { body: { selectionPattern, responseTemplates, responseParameters, contentHandling } });
        }
      }
      // What AWS's console does for a new integration: a 200 method response (and, unless the integration is a
      // proxy, a pass-through 200 integration response).
      if (!integration && !(method.methodResponses || {})["200"]) {
        await call("PUT", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}/responses/200`, { body: { responseModels: { "application/json": "Empty" } } });
      }
      if (!Object.keys(integration?.integrationResponses || {}).length && !type.endsWith("PROXY")) {
        await call("PUT", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}/integration/responses/200`, { body: { selectionPattern: "" } });
      }
      setDone(true);
      saved();
    });
  };
  return html`<form class="stack" onSubmit=${save} aria-label="Integration request">
    <fieldset class="choice"><legend>Integration type</legend>
      ${INTEGRATION_TYPES.map(([value, text]) => html`<label><input type="radio" name="integrationType" value=${value}
        checked=${type === value} onChange=${() => setType(value)}/> ${text}</label>`)}
    </fieldset>
    ${lambda ? html`<${Field} label="Lambda function">${(id) => html`<select id=${id} value=${fn} onChange=${(e) => setFn(e.target.value)} required>
        ${functions.length === 0 ? html`<option value="">(no functions: create one first)</option>` : ""}
        ${functions.map((f) => html`<option value=${f}>${f}</option>`)}</select>`}<//>` : ""}
    ${type === "HTTP" || type === "HTTP_PROXY" ? html`
      <${Field} label="Endpoint URL">${(id) => html`<input id=${id} type="url" value=${uri} onInput=${(e) => setUri(e.target.value)} required/>`}<//>
      <${Field} label="HTTP method">${(id) => html`<select id=${id} value=${httpMethod} onChange=${(e) => setHttpMethod(e.target.value)}>${VERBS.map((v) => html`<option value=${v}>${v}</option>`)}</select>`}<//>` : ""}
    ${type === "AWS" || type === "HTTP" || type === "MOCK" ? html`
      <${Field} label="Request body passthrough">${(id) => html`<select id=${id} value=${passthrough} onChange=${(e) => setPassthrough(e.target.value)}>
        ${["WHEN_NO_MATCH", "WHEN_NO_TEMPLATES", "NEVER"].map((v) => html`<option value=${v}>${v}</option>`)}</select>`}<//>
      <${Field} label="Mapping template content type">${(id) => html`<input id=${id} list="content-types" value=${contentType} onInput=${(e) => setContentType(e.target.value)}/>`}<//>
      <datalist id="content-types"><option value="application/json">application/json</option><option value="application/x-www-form-urlencoded">application/x-www-form-urlencoded</option><option value="text/plain">text/plain</option></datalist>
      <${VtlEditor} id="request-template" label=${`Request mapping template for ${contentType}`} value=${templates[contentType] || ""}
        onInput=${(text) => setTemplates({ ...templates, [contentType]: text })}/>` : ""}
    <button type="submit" disabled=${action.busy || (lambda && !fn)}>Save integration</button>
    ${done ? html`<p class="ok" role="status">Integration saved. Deploy the API to a stage for callers to see it.</p>` : ""}
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

function IntegrationResponses({ apiId, resource, verb, integration, saved }) {
  const responses = integration?.integrationResponses || {};
  const [status, setStatus] = useState(Object.keys(responses)[0] || "200");
  const current = responses[status] || {};
  const [pattern, setPattern] = useState(current.selectionPattern || "");
  const [template, setTemplate] = useState(Object.values(current.responseTemplates || {})[0] || "");
  useEffect(() => { setPattern(current.selectionPattern || ""); setTemplate(Object.values(current.responseTemplates || {})[0] || ""); }, [status]);
  const action = useAction();
  if (!integration) return html`<p class="muted">Set up the integration first.</p>`;
  if (integration.type?.endsWith("PROXY")) return html`<p class="muted">A proxy integration passes the backend's response through: no integration responses.</p>`;
  const save = (event) => {
    event.preventDefault();
    action.run(async () => {
      await call("PUT", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}/integration/responses/${status}`,
        { body: { selectionPattern: pattern, responseTemplates: template ? { "application/json": template } : {} } });
      saved();
    });
  };
  return html`<form class="stack" onSubmit=${save} aria-label="Integration response">
    <p>${Object.keys(responses).length ? Object.entries(responses).map(([s, r]) => html`<span class="badge">${s} ${r.selectionPattern ? `/${r.selectionPattern}/` : "(default)"}</span> `) : "None yet."}</p>
    <${Field} label="Method response status">${(id) => html`<input id=${id} value=${status} onInput=${(e) => setStatus(e.target.value)} pattern="[1-5]\\d\\d" required/>`}<//>
    <${Field} label="Error regex (selection pattern)" hint="Empty: the default response">${(id) => html`<input id=${id} value=${pattern} onInput=${(e) => setPattern(e.target.value)}/>`}<//>
    <${VtlEditor} id="response-template" label="Response mapping template (application/json)" value=${template} onInput=${setTemplate} rows="6"/>
    <button type="submit" disabled=${action.busy}>Save integration response</button>
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

function MethodResponses({ apiId, resource, verb, method, saved }) {
  const action = useAction();
  const add = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    action.run(async () => {
      const headers = form.get("headers").split(",").map((h) => h.trim()).filter(Boolean);
      await call("PUT", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}/responses/${form.get("status")}`, {
        body: { responseModels: { "application/json": form.get("model") || "Empty" },
                responseParameters: Object.fromEntries(headers.map((h) => [`method.response.header.${h}`, false])) } });
      saved();
    });
  };
  return html`<div class="stack">
    <table class="list"><thead><tr><th scope="col">Status</th><th scope="col">Headers</th><th scope="col">Models</th></tr></thead>
      <tbody>${Object.entries(method.methodResponses || {}).map(([s, r]) => html`<tr><td>${s}</td>
        <td>${Object.keys(r.responseParameters || {}).map((h) => h.replace("method.response.header.", "")).join(", ")}</td>
        <td>${Object.entries(r.responseModels || {}).map(([t, m]) => `${t}: ${m}`).join(", ")}</td></tr>`)}</tbody></table>
    <form class="row" onSubmit=${add} aria-label="Add method response">
      <${Field} label="Status">${(id) => html`<input id=${id} name="status" size="4" pattern="[1-5]\\d\\d" required/>`}<//>
      <${Field} label="Headers (comma separated)">${(id) => html`<input id=${id} name="headers"/>`}<//>
      <${Field} label="Model">${(id) => html`<input id=${id} name="model" placeholder="Empty"/>`}<//>
      <button type="submit" disabled=${action.busy}>Add response</button>
    </form>
    <${ErrorNote} error=${action.error}/>
  </div>`;
}

function TestPanel({ apiId, resource, verb }) {
  const params = [...resource.path.matchAll(/\{([^}+]+)\+?\}/g)].map((m) => m[1]);
  const [values, setValues] = useState({});
  const [query, setQuery] = useState("");
  const [headers, setHeaders] = useState("");
  const [body, setBody] = useState("");
  const [result, setResult] = useState(null);
  const action = useAction();
  const run = (event) => {
    event.preventDefault();
    let path = resource.path.replace(/\{([^}+]+)\+?\}/g, (_, name) => encodeURIComponent(values[name] || ""));
    if (query.trim()) path += "?" + query.trim().replace(/^\?/, "");
    const headerMap = Object.fromEntries(headers.split("\n").map((l) => l.split(":")).filter((kv) => kv.length > 1).map(([k, ...v]) => [k.trim(), v.join(":").trim()]));
    action.run(async () => {
      setResult(await call("POST", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}`,
        { body: { pathWithQueryString: path, body: body || undefined, headers: headerMap } }));
    });
  };
  return html`<section class="card" aria-labelledby="test-heading" id="test-panel">
    <h2 id="test-heading">Test ${verb} ${resource.path}</h2>
    <div class="split"><form class="stack" onSubmit=${run}>
      ${params.map((name) => html`<${Field} label=${`{${name}}`}>${(id) => html`<input id=${id} name=${"param-" + name} value=${values[name] || ""}
        onInput=${(e) => setValues({ ...values, [name]: e.target.value })}/>`}<//>`)}
      <${Field} label="Query string" hint="name=value&other=value">${(id) => html`<input id=${id} name="query" value=${query} onInput=${(e) => setQuery(e.target.value)}/>`}<//>
      <${Field} label="Headers" hint="One per line, Name: value">${(id) => html`<textarea id=${id} name="headers" rows="2" value=${headers} onInput=${(e) => setHeaders(e.target.value)}></textarea>`}<//>
      <${Field} label="Request body">${(id) => html`<textarea id=${id} name="body" rows="3" value=${body} onInput=${(e) => setBody(e.target.value)}></textarea>`}<//>
      <button type="submit" disabled=${action.busy}>Test</button>
    <${ErrorNote} error=${action.error}/></form>
    ${result ? html`<div class="result" aria-live="polite" id="test-result">
      <p><strong>Status</strong> <span class=${"status s" + String(result.status)[0]} id="test-status">${result.status}</span>
         <strong>Latency</strong> ${result.latency} ms</p>
      <h3>Response body</h3><${Json} value=${result.body || ""}/>
      <h3>Response headers</h3><${Json} value=${result.multiValueHeaders || result.headers || {}}/>
      <h3>Log</h3><pre class="code log" id="test-log">${result.log}</pre>
    </div>` : html`<p class="muted">Fill in the request and press Test: the method runs as a stage would run it, and its execution log appears here.</p>`}</div>
  </section>`;
}

function MethodPanel({ apiId, resource, verb, part, reload, functions, authorizers, validators }) {
  const [method, error, reloadMethod] = useLoad(
    () => call("GET", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}`), [apiId, resource.id, verb]);
  const action = useAction();
  if (error) return html`<${ErrorNote} error=${error}/>`;
  if (!method) return html`<${Loading} what="the method"/>`;
  const integration = method.methodIntegration;
  const base = `#/apis/${apiId}/resources/${resource.id}/${verb}`;
  const saved = () => { reloadMethod(); reload(); };
  const remove = () => confirm(`Delete ${verb} ${resource.path}?`) && action.run(async () => {
    await call("DELETE", p`/restapis/${apiId}/resources/${resource.id}/methods/${verb}`); reload(); location.hash = `#/apis/${apiId}/resources/${resource.id}`;
  });
  const backend = !integration ? "not set up" : integration.type === "MOCK" ? "Mock" :
    integration.type.startsWith("AWS") ? `Lambda ${functionFromUri(integration.uri)}` : integration.uri;
  const box = (key, title, lines) => html`<a href=${`${base}/${key}`} class=${"box" + (part === key ? " on" : "")}
    aria-current=${part === key ? "true" : undefined}><strong>${title}</strong>${lines.filter(Boolean).map((l) => html`<span>${l}</span>`)}</a>`;
  return html`<section class="card" aria-labelledby="method-heading">
    <div class="row"><h2 id="method-heading"><span class=${"verb " + verb}>${verb}</span> ${resource.path}</h2>
      <a class="button" href=${`${base}/test`}>Test</a><button class="small danger" onClick=${remove}>Delete method</button></div>
    <div class="diagram" role="group" aria-label="Method execution">
      <div class="client" aria-hidden="true">Client</div>
      ${box("request", "Method request", [`Authorization: ${method.authorizationType}`, `API key required: ${method.apiKeyRequired ? "yes" : "no"}`])}
      <span class="arrow" aria-hidden="true">→</span>
      ${box("integration", "Integration request", [integration ? `Type: ${integration.type}` : "Set up the integration", integration?.requestTemplates && Object.keys(integration.requestTemplates).length ? "Mapping templates" : ""])}
      <span class="arrow" aria-hidden="true">→</span>
      <div class="backend"><strong>Backend</strong><span>${backend}</span></div>
      <div class="client" aria-hidden="true">Client</div>
      ${box("method-response", "Method response", [Object.keys(method.methodResponses || {}).join(", ") || "none"])}
      <span class="arrow" aria-hidden="true">←</span>
      ${box("integration-response", "Integration response", [integration?.type?.endsWith("PROXY") ? "Proxy: passed through" : Object.keys(integration?.integrationResponses || {}).join(", ") || "none"])}
      <span class="arrow" aria-hidden="true">←</span>
      <div class="backend ghost" aria-hidden="true"></div>
    </div>
    <${ErrorNote} error=${action.error}/>
    ${!part && integration ? html`<p class="muted">Choose a part of the method execution to edit it, or press Test.</p>` : ""}
    ${part === "request" ? html`<h3>Method request</h3><${MethodRequest} key=${"mr" + verb} ...${{ apiId, resource, verb, method, authorizers, validators, saved }}/>` : ""}
    ${part === "integration" || (!part && !integration) ? html`<h3>Integration request</h3><${IntegrationRequest} key=${"ir" + verb + (integration?.uri || "")} ...${{ apiId, resource, verb, method, integration, functions, saved }}/>` : ""}
    ${part === "integration-response" ? html`<h3>Integration response</h3><${IntegrationResponses} ...${{ apiId, resource, verb, integration, saved }}/>` : ""}
    ${part === "method-response" ? html`<h3>Method response</h3><${MethodResponses} ...${{ apiId, resource, verb, method, saved }}/>` : ""}
  </section>
  ${part === "test" ? html`<${TestPanel} ...${{ apiId, resource, verb }}/>` : ""}`;
}

const pretty = (text) => { try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text || ""; } };

function Authorizers({ apiId, functions }) {
  const [list, error, reload] = useLoad(() => listAll(p`/restapis/${apiId}/authorizers`), [apiId]);
  const [testing, setTesting] = useState(null);
  const [result, setResult] = useState(null);
  const action = useAction();
  const create = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const type = form.get("type");
    const body = { name: form.get("name"), type, identitySource: form.get("identitySource") };
    if (type === "COGNITO_USER_POOLS") body.providerARNs = [form.get("provider")];
    else body.authorizerUri = lambdaUri(form.get("function"));
    action.run(async () => { await call("POST", p`/restapis/${apiId}/authorizers`, { body }); reload(); });
  };
  const test = (event) => {
    event.preventDefault();
    const value = new FormData(event.target).get("value");
    const source = (testing.identitySource || "").split(",")[0].trim();
    const header = source.replace(/^method\.request\.header\./, "");
    action.run(async () => {
      setResult(await call("POST", p`/restapis/${apiId}/authorizers/${testing.id}`, { body: { headers: { [header]: value } } }));
    });
  };
  return html`<section class="card" aria-labelledby="authorizers-heading">
    <h2 id="authorizers-heading">Authorizers</h2>
    <${ErrorNote} error=${error || action.error}/>
    <table class="list"><thead><tr><th scope="col">Name</th><th scope="col">Type</th><th scope="col">Identity source</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
      <tbody>${(list || []).map((a) => html`<tr><th scope="row">${a.name}</th><td>${a.type}</td><td><code>${a.identitySource}</code></td>
        <td class="actions"><button class="small" onClick=${() => { setTesting(a); setResult(null); }}>Test</button>
        <button class="small danger" onClick=${() => action.run(async () => { await call("DELETE", p`/restapis/${apiId}/authorizers/${a.id}`); reload(); })}>Delete</button></td></tr>`)}</tbody></table>
    ${testing ? html`<form class="stack" onSubmit=${test} aria-label=${`Test authorizer ${testing.name}`}>
      <h3>Test ${testing.name}</h3>
      <${Field} label=${testing.identitySource || "Identity"}>${(id) => html`<input id=${id} name="value"/>`}<//>
      <button type="submit">Test authorizer</button>
      ${result ? html`<div aria-live="polite"><p><strong>Result</strong> ${result.clientStatus === 0
          ? html`<span class="status s2">authorized</span>` : html`<span class="status s4">${result.clientStatus}</span> (what the client gets)`}
        · ${result.latency} ms · principal ${result.principalId || "—"}</p>
        <h4>Policy</h4><${Json} value=${pretty(result.policy)}/><h4>Log</h4><pre class="code log">${result.log}</pre></div>` : ""}
    </form>` : ""}
    <form class="stack" onSubmit=${create} aria-label="Create authorizer">
      <h3>Create authorizer</h3>
      <${Field} label="Name">${(id) => html`<input id=${id} name="name" required/>`}<//>
      <${Field} label="Type">${(id) => html`<select id=${id} name="type"><option value="TOKEN">TOKEN</option><option value="REQUEST">REQUEST</option><option value="COGNITO_USER_POOLS">COGNITO_USER_POOLS</option></select>`}<//>
      <${Field} label="Lambda function (TOKEN, REQUEST)">${(id) => html`<select id=${id} name="function">${functions.map((f) => html`<option value=${f}>${f}</option>`)}</select>`}<//>
      <${Field} label="User pool ARN (Cognito)">${(id) => html`<input id=${id} name="provider"/>`}<//>
      <${Field} label="Identity source">${(id) => html`<input id=${id} name="identitySource" value="method.request.header.Authorization"/>`}<//>
      <button type="submit" disabled=${action.busy}>Create authorizer</button>
    </form>
  </section>`;
}

async function loadEditor(apiId) {
  const [api, resources, functions, authorizers, validators] = await Promise.all([
    call("GET", p`/restapis/${apiId}`),
    listAll(p`/restapis/${apiId}/resources`, "item", { embed: "methods" }),
    listAll("/2015-03-31/functions", "Functions").then((fs) => fs.map((f) => f.FunctionName).sort()),
    listAll(p`/restapis/${apiId}/authorizers`).catch(() => []),
    listAll(p`/restapis/${apiId}/requestvalidators`).catch(() => []),
  ]);
  return { api, resources, functions, authorizers, validators };
}

export function RestApiPage({ apiId, args }) {
  const [data, error, reload] = useLoad(() => loadEditor(apiId), [apiId]);
  if (error) return html`<h1 tabindex="-1">REST API ${apiId}</h1><${ErrorNote} error=${error}/>`;
  if (!data) return html`<h1 tabindex="-1">REST API</h1><${Loading} what="the API"/>`;
  const { api, resources, functions, authorizers, validators } = data;
  const section = args[0] || "resources";
  const resource = resources.find((r) => r.id === args[1]) || resources.find((r) => r.path === "/");
  const verb = section === "resources" ? args[2] : undefined;
  const base = `#/apis/${apiId}`;
  return html`
    <div class="row"><h1 tabindex="-1">${api.name}</h1><span class="badge REST">REST</span><code>${api.id}</code></div>
    <${Tabs} label="API sections" current=${section === "authorizers" ? `${base}/authorizers` : base}
      tabs=${[[base, "Resources"], [`${base}/stages`, "Stages"], [`${base}/authorizers`, "Authorizers"]]}/>
    ${section === "authorizers" ? html`<${Authorizers} apiId=${apiId} functions=${functions}/>` : html`
    <div class="columns">
      <${ResourceTree} apiId=${apiId} resources=${resources} selected=${resource?.id} method=${verb} reload=${reload}/>
      <div class="grow">
        ${resource && !verb ? html`<${ResourcePanel} apiId=${apiId} resource=${resource} reload=${reload}/>` : ""}
        ${resource && verb ? html`<${MethodPanel} key=${resource.id + verb} ...${{ apiId, resource, verb, part: args[3], reload, functions, authorizers, validators }}/>` : ""}
      </div>
    </div>`}`;
}
