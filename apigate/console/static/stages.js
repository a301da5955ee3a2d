// Stages and deployments of a REST API: deploy, invoke URLs, stage variables, throttling, caching, canary release,
// export and SDK download.
import { html, useState, useLoad, useAction, ErrorNote, Loading, Field, Tabs, CopyButton, download, when } from "./ui.js";
import { call, p, listAll, invokeUrl } from "./api.js";

function Deploy({ apiId, stages, done }) {
  const action = useAction();
  const [choice, setChoice] = useState(stages[0]?.stageName || "*new");
  const canary = stages.find((s) => s.stageName === choice)?.canarySettings;
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const stageName = choice === "*new" ? form.get("newStage").trim() : choice;
    const body = { stageName, description: form.get("description") || undefined };
    // As AWS's console does: a stage with a canary gets the new deployment on its canary, the stage keeps its own.
    if (canary && form.get("toCanary") === "on") {
      body.canarySettings = { percentTraffic: canary.percentTraffic ?? 0, useStageCache: !!canary.useStageCache,
        stageVariableOverrides: canary.stageVariableOverrides };
    }
    action.run(async () => {
      await call("POST", p`/restapis/${apiId}/deployments`, { body });
      done(stageName);
    });
  };
  return html`<form class="card stack" onSubmit=${submit} aria-labelledby="deploy-heading">
    <h2 id="deploy-heading">Deploy API</h2>
    <${Field} label="Stage">${(id) => html`<select id=${id} name="stage" value=${choice} onChange=${(e) => setChoice(e.target.value)}>
      ${stages.map((s) => html`<option value=${s.stageName}>${s.stageName}</option>`)}<option value="*new">New stage…</option></select>`}<//>
    ${choice === "*new" ? html`<${Field} label="New stage name">${(id) => html`<input id=${id} name="newStage" required pattern="[A-Za-z0-9_\\-]+"/>`}<//>` : ""}
    <${Field} label="Deployment description">${(id) => html`<input id=${id} name="description"/>`}<//>
    ${canary ? html`<label class="check"><input type="checkbox" name="toCanary" checked/> Deploy to the canary only (${canary.percentTraffic ?? 0}% of requests)</label>` : ""}
    <button type="submit" disabled=${action.busy}>Deploy</button>
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

function patchOps(before, after, prefix) {
  const ops = [];
  for (const k of Object.keys(before || {})) if (!(k in after)) ops.push({ op: "remove", path: `${prefix}/${k}` });
  for (const [k, v] of Object.entries(after)) if ((before || {})[k] !== v) ops.push({ op: "replace", path: `${prefix}/${k}`, value: v });
  return ops;
}

// A canary release: a share of the stage's requests served by another deployment (UpdateStage's canarySettings).
function Canary({ stage, patch, busy }) {
  const canary = stage.canarySettings;
  const percentOf = (event) => String(Number(new FormData(event.target).get("percent")));
  const create = (event) => {
    event.preventDefault();
    patch([{ op: "replace", path: "/canarySettings/percentTraffic", value: percentOf(event) }], "Canary created.");
  };
  const save = (event) => {
    event.preventDefault();
    patch([{ op: "replace", path: "/canarySettings/percentTraffic", value: percentOf(event) }], "Canary percentage saved.");
  };
  // AWS's documented promotion: the stage takes the canary's deployment (and its variable overrides); the canary
  // stays, at 0%, until deleted.
  const promote = () => patch([
    { op: "replace", path: "/canarySettings/percentTraffic", value: "0.0" },
    ...(canary.stageVariableOverrides && Object.keys(canary.stageVariableOverrides).length
      ? [{ op: "copy", from: "/canarySettings/stageVariableOverrides", path: "/variables" }] : []),
    { op: "copy", from: "/canarySettings/deploymentId", path: "/deploymentId" },
  ], "Canary promoted: the stage now serves its deployment.");
  const remove = () => patch([{ op: "remove", path: "/canarySettings" }], "Canary deleted.");
  const percent = (value) => html`<${Field} label="Requests to the canary (%)">${(id) => html`<input id=${id} name="percent" type="number" min="0" max="100" step="any" required value=${value}/>`}<//>`;
  if (!canary) {
    return html`<form class="stack" onSubmit=${create} aria-labelledby="canary-heading">
      <h3 id="canary-heading">Canary</h3>
      <p class="muted">No canary. A canary starts on the stage's deployment; deploy to it to try a new one on a share of the requests.</p>
      ${percent(10)}
      <button type="submit" disabled=${busy}>Create canary</button>
    </form>`;
  }
  const overrides = Object.entries(canary.stageVariableOverrides || {});
  return html`<form class="stack" onSubmit=${save} aria-labelledby="canary-heading">
    <h3 id="canary-heading">Canary</h3>
    <p id="canary-state">Deployment <code>${canary.deploymentId}</code> serves <strong>${canary.percentTraffic ?? 0}%</strong> of the requests${canary.useStageCache ? " (using the stage cache)" : ""}.</p>
    ${overrides.length ? html`<p class="muted">Variable overrides: ${overrides.map(([k, v]) => html`<code>${k}=${v}</code> `)}</p>` : ""}
    ${percent(canary.percentTraffic ?? 0)}
    <div class="row"><button type="submit" disabled=${busy}>Save canary percentage</button>
      <button type="button" onClick=${promote} disabled=${busy}>Promote canary</button>
      <button type="button" class="danger" onClick=${remove} disabled=${busy}>Delete canary</button></div>
  </form>`;
}

// GetSdk: a client library for this stage, as a zip (the kinds this gateway can make, from GetSdkTypes).
function Sdk({ apiId, apiName, stageName, run }) {
  const [types] = useLoad(() => listAll("/sdktypes"), []);
  const submit = (event) => {
    event.preventDefault();
    const kind = new FormData(event.target).get("sdkType");
    run(async () => {
      const zip = await call("GET", p`/restapis/${apiId}/stages/${stageName}/sdks/${kind}`, { binary: true });
      download(`${apiName}-${stageName}-${kind}-sdk.zip`, zip, "application/zip");
    });
  };
  return html`<form class="stack" onSubmit=${submit} aria-labelledby="sdk-heading">
    <h3 id="sdk-heading">SDK</h3>
    <div class="row"><${Field} label="SDK platform">${(id) => html`<select id=${id} name="sdkType">
      ${(types || []).map((t) => html`<option value=${t.id}>${t.friendlyName || t.id}</option>`)}</select>`}<//>
      <button type="submit" disabled=${!types || !types.length}>Download SDK</button></div>
  </form>`;
}

function StageDetail({ apiId, apiName, stage, deployments, reload }) {
  const action = useAction();
  const [message, setMessage] = useState("");
  const [vars, setVars] = useState(() => Object.entries(stage.variables || {}));
  const all = (stage.methodSettings || {})["*/*"] || {};
  const url = invokeUrl(apiId, stage.stageName);
  const patch = (ops, note) => action.run(async () => {
    if (ops.length) await call("PATCH", p`/restapis/${apiId}/stages/${stage.stageName}`, { body: { patchOperations: ops } });
    setMessage(note); reload();
  });
  const saveVars = (event) => {
    event.preventDefault();
    patch(patchOps(stage.variables, Object.fromEntries(vars.filter(([k]) => k)), "/variables"), "Stage variables saved.");
  };
  const saveThrottle = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    patch([
      { op: "replace", path: "/*/*/throttling/rateLimit", value: form.get("rate") },
      { op: "replace", path: "/*/*/throttling/burstLimit", value: form.get("burst") },
    ], "Throttling saved.");
  };
  const saveCache = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const enabled = form.get("enabled") === "on";
    const ops = [{ op: "replace", path: "/cacheClusterEnabled", value: String(enabled) }];
    if (enabled) {
      ops.push({ op: "replace", path: "/cacheClusterSize", value: form.get("size") });
      ops.push({ op: "replace", path: "/*/*/caching/enabled", value: String(form.get("methods") === "on") });
      ops.push({ op: "replace", path: "/*/*/caching/ttlInSeconds", value: form.get("ttl") });
    }
    patch(ops, "Caching saved.");
  };
  const flush = () => action.run(async () => {
    await call("DELETE", p`/restapis/${apiId}/stages/${stage.stageName}/cache/data`);
    setMessage("Stage cache flushed.");
  });
  const exportStage = (type) => action.run(async () => {
    const doc = await call("GET", p`/restapis/${apiId}/stages/${stage.stageName}/exports/${type}`,
      { headers: { accept: "application/json" }, query: { extensions: "apigateway" }, raw: true });
    download(`${apiName}-${stage.stageName}-${type}.json`, doc);
  });
  const redeploy = (deploymentId) => patch([{ op: "replace", path: "/deploymentId", value: deploymentId }], `Stage now points at deployment ${deploymentId}.`);
  return html`<section class="card stack" aria-labelledby="stage-heading">
    <h2 id="stage-heading">Stage <code>${stage.stageName}</code></h2>
    <div class="invoke"><span>Invoke URL</span> <a href=${url + "/"} target="_blank" rel="noopener" id="invoke-url">${url}/</a> <${CopyButton} text=${url + "/"} label="Copy URL"/></div>
    <p class="muted">Deployment <code>${stage.deploymentId}</code> · created ${when(stage.createdDate)} · updated ${when(stage.lastUpdatedDate)}</p>
    ${message ? html`<p class="ok" role="status">${message}</p>` : ""}
    <${ErrorNote} error=${action.error}/>
    <div class="grid2">
      <form class="stack kv" onSubmit=${saveVars} aria-labelledby="vars-heading">
        <h3 id="vars-heading">Stage variables</h3>
        ${[...vars, ["", ""]].map(([k, v], i) => html`<div class="row" key=${i}>
          <input aria-label=${`Variable ${i + 1} name`} placeholder="name" value=${k} onChange=${(e) => { const n = vars.slice(); n[i] = [e.target.value, v]; setVars(n); }}/>
          <input aria-label=${`Variable ${i + 1} value`} placeholder="value" value=${v} onChange=${(e) => { const n = vars.slice(); n[i] = [k, e.target.value]; setVars(n); }}/></div>`)}
        <button type="submit" disabled=${action.busy}>Save variables</button>
      </form>
      <form class="stack" onSubmit=${saveThrottle} aria-labelledby="throttle-heading">
        <h3 id="throttle-heading">Default method throttling</h3>
        <${Field} label="Rate (requests per second)">${(id) => html`<input id=${id} name="rate" type="number" min="0" step="any" value=${all.throttlingRateLimit ?? 10000}/>`}<//>
        <${Field} label="Burst">${(id) => html`<input id=${id} name="burst" type="number" min="0" value=${all.throttlingBurstLimit ?? 5000}/>`}<//>
        <button type="submit" disabled=${action.busy}>Save throttling</button>
      </form>
      <form class="stack" onSubmit=${saveCache} aria-labelledby="cache-heading">
        <h3 id="cache-heading">Caching</h3>
        <label class="check"><input type="checkbox" name="enabled" checked=${!!stage.cacheClusterEnabled}/> Provision a stage cache</label>
        <${Field} label="Cache size (GB)">${(id) => html`<select id=${id} name="size" value=${stage.cacheClusterSize || "0.5"}>
          ${["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"].map((s) => html`<option value=${s}>${s}</option>`)}</select>`}<//>
        <label class="check"><input type="checkbox" name="methods" checked=${!!all.cachingEnabled}/> Cache every method's responses</label>
        <${Field} label="Time to live (seconds)">${(id) => html`<input id=${id} name="ttl" type="number" min="0" max="3600" value=${all.cacheTtlInSeconds ?? 300}/>`}<//>
        <div class="row"><button type="submit" disabled=${action.busy}>Save caching</button>
          <button type="button" onClick=${flush} disabled=${!stage.cacheClusterEnabled}>Flush cache</button></div>
      </form>
      <div class="stack">
        <h3>Export</h3>
        <div class="row"><button type="button" onClick=${() => exportStage("oas30")}>OpenAPI 3</button>
          <button type="button" onClick=${() => exportStage("swagger")}>Swagger 2</button></div>
        <${Sdk} apiId=${apiId} apiName=${apiName} stageName=${stage.stageName} run=${action.run}/>
        <h3>Deployment history</h3>
        <table class="list"><thead><tr><th scope="col">Deployment</th><th scope="col">Created</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
          <tbody>${deployments.map((d) => html`<tr><td><code>${d.id}</code> ${d.description || ""}</td><td>${when(d.createdDate)}</td>
            <td>${d.id === stage.deploymentId ? html`<span class="badge">active</span>` : d.id === stage.canarySettings?.deploymentId ? html`<span class="badge">canary</span>` : html`<button class="small" onClick=${() => redeploy(d.id)}>Make active</button>`}</td></tr>`)}</tbody></table>
      </div>
      <${Canary} stage=${stage} patch=${patch} busy=${action.busy}/>
    </div>
  </section>`;
}

async function loadStages(apiId) {
  const [api, stages, deployments] = await Promise.all([
    call("GET", p`/restapis/${apiId}`),
    call("GET", p`/restapis/${apiId}/stages`).then((a) => a.item || []),
    listAll(p`/restapis/${apiId}/deployments`),
  ]);
  deployments.sort((a, b) => (b.createdDate || 0) - (a.createdDate || 0));
  return { api, stages, deployments };
}

export function StagesPage({ apiId, stage }) {
  const [data, error, reload] = useLoad(() => loadStages(apiId), [apiId]);
  const action = useAction();
  if (error) return html`<h1 tabindex="-1">Stages</h1><${ErrorNote} error=${error}/>`;
  if (!data) return html`<h1 tabindex="-1">Stages</h1><${Loading} what="stages"/>`;
  const { api, stages, deployments } = data;
  const current = stages.find((s) => s.stageName === stage) || stages[0];
  const base = `#/apis/${apiId}`;
  const remove = (name) => confirm(`Delete stage ${name}?`) && action.run(async () => {
    await call("DELETE", p`/restapis/${apiId}/stages/${name}`); reload(); location.hash = `${base}/stages`;
  });
  return html`
    <div class="row"><h1 tabindex="-1">${api.name}: stages</h1><span class="badge REST">REST</span><code>${api.id}</code></div>
    <${Tabs} label="API sections" current=${`${base}/stages`} tabs=${[[base, "Resources"], [`${base}/stages`, "Stages"], [`${base}/authorizers`, "Authorizers"]]}/>
    <div class="columns">
      <nav class="card tree" aria-labelledby="stages-heading">
        <h2 id="stages-heading">Stages</h2>
        <ul>${stages.map((s) => html`<li><a href=${`${base}/stages/${s.stageName}`} aria-current=${s === current ? "page" : undefined}>${s.stageName}</a>
          <button class="small danger" onClick=${() => remove(s.stageName)} aria-label=${`Delete stage ${s.stageName}`}>×</button></li>`)}</ul>
        ${stages.length === 0 ? html`<p class="muted">Not deployed yet.</p>` : ""}
        <${ErrorNote} error=${action.error}/>
      </nav>
      <div class="grow">
        ${current ? html`<${StageDetail} key=${current.stageName} apiId=${apiId} apiName=${api.name} stage=${current} deployments=${deployments} reload=${reload}/>` : ""}
      </div>
      <aside class="side"><${Deploy} key=${stages.length} apiId=${apiId} stages=${stages} done=${(name) => { reload(); location.hash = `${base}/stages/${name}`; }}/></aside>
    </div>`;
}
