// APIs: REST, HTTP and WebSocket APIs in one list; create, import an OpenAPI file, export, delete.
import { html, useState, useLoad, useAction, ErrorNote, Loading, Field, download, when } from "./ui.js";
import { call, p, listAll } from "./api.js";

async function loadApis() {
  const [rest, v2] = await Promise.all([listAll("/restapis"), listAll("/v2/apis")]);
  return [
    ...rest.map((a) => ({ id: a.id, name: a.name, kind: "REST", description: a.description, created: a.createdDate })),
    ...v2.map((a) => ({ id: a.apiId, name: a.name, kind: a.protocolType, description: a.description, created: a.createdDate })),
  ].sort((a, b) => (a.name || "").localeCompare(b.name || ""));
}

function CreateApi({ done }) {
  const [kind, setKind] = useState("REST");
  const action = useAction();
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const name = form.get("name").trim(), description = form.get("description").trim() || undefined;
    action.run(async () => {
      let id;
      if (kind === "REST") {
        id = (await call("POST", "/restapis", { body: { name, description, endpointConfiguration: { types: ["REGIONAL"] } } })).id;
      } else {
        const body = { name, description, protocolType: kind };
        if (kind === "WEBSOCKET") body.routeSelectionExpression = form.get("routeSelection") || "$request.body.action";
        id = (await call("POST", "/v2/apis", { body })).apiId;
      }
      event.target.reset();
      done(kind === "REST" ? `#/apis/${id}` : `#/http/${id}`);
    });
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="create-api">
    <h2 id="create-api">Create an API</h2>
    <fieldset class="choice"><legend>Type</legend>
      ${[["REST", "REST API"], ["HTTP", "HTTP API"], ["WEBSOCKET", "WebSocket API"]].map(([value, text]) => html`
        <label><input type="radio" name="kind" value=${value} checked=${kind === value} onChange=${() => setKind(value)}/> ${text}</label>`)}
    </fieldset>
    <${Field} label="API name">${(id) => html`<input id=${id} name="name" required/>`}<//>
    <${Field} label="Description">${(id) => html`<input id=${id} name="description"/>`}<//>
    ${kind === "WEBSOCKET" ? html`<${Field} label="Route selection expression">${(id) => html`<input id=${id} name="routeSelection" value="$request.body.action"/>`}<//>` : ""}
    <button type="submit" disabled=${action.busy}>Create API</button>
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

function ImportApi({ done }) {
  const action = useAction();
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const file = form.get("file"), kind = form.get("kind");
    action.run(async () => {
      const text = await file.text();
      if (kind === "REST") {
        const api = await call("POST", "/restapis", { query: { mode: "import" }, body: text });
        done(`#/apis/${api.id}`);
      } else {
        const api = await call("PUT", "/v2/apis", { body: { body: text } });
        done(`#/http/${api.apiId}`);
      }
    });
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="import-api">
    <h2 id="import-api">Import OpenAPI</h2>
    <${Field} label="OpenAPI or Swagger file (JSON or YAML)">${(id) => html`<input id=${id} name="file" type="file" accept=".json,.yaml,.yml" required/>`}<//>
    <${Field} label="As">${(id) => html`<select id=${id} name="kind"><option value="REST">REST API</option><option value="HTTP">HTTP API</option></select>`}<//>
    <button type="submit" disabled=${action.busy}>Import</button>
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

async function exportApi(api) {
  if (api.kind === "REST") {
    const stages = (await call("GET", p`/restapis/${api.id}/stages`)).item || [];
    if (!stages.length) throw new Error("Deploy the API to a stage first: REST APIs are exported per stage.");
    const doc = await call("GET", p`/restapis/${api.id}/stages/${stages[0].stageName}/exports/oas30`,
      { headers: { accept: "application/json" }, query: { extensions: "apigateway" }, raw: true });
    download(`${api.name}-${stages[0].stageName}-oas30.json`, doc);
  } else {
    const doc = await call("GET", p`/v2/exports/${api.id}`, { query: { specification: "OAS30", outputType: "JSON" }, raw: true });
    download(`${api.name}-oas30.json`, doc);
  }
}

export function ApisPage() {
  const [apis, error, reload] = useLoad(loadApis, []);
  const [filter, setFilter] = useState("");
  const action = useAction();
  const go = (hash) => { reload(); location.hash = hash; };
  const remove = (api) => {
    if (!confirm(`Delete ${api.kind} API "${api.name}" (${api.id})?`)) return;
    action.run(async () => {
      await call("DELETE", api.kind === "REST" ? p`/restapis/${api.id}` : p`/v2/apis/${api.id}`);
      reload();
    });
  };
  const shown = (apis || []).filter((a) => !filter || `${a.name} ${a.id} ${a.kind}`.toLowerCase().includes(filter.toLowerCase()));
  return html`
    <h1 tabindex="-1">APIs</h1>
    <div class="columns">
      <section class="grow" aria-labelledby="api-list">
        <div class="row"><h2 id="api-list">Your APIs ${apis ? html`<span class="count">${apis.length}</span>` : ""}</h2>
          <label class="inline">Filter <input type="search" value=${filter} onInput=${(e) => setFilter(e.target.value)}/></label></div>
        <${ErrorNote} error=${error || action.error}/>
        ${apis === undefined && !error ? html`<${Loading} what="APIs"/>` : html`
        <table class="list" id="apis-table">
          <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Type</th><th scope="col">Created</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
          <tbody>${shown.map((a) => html`<tr key=${a.id}>
            <th scope="row"><a href=${a.kind === "REST" ? `#/apis/${a.id}` : `#/http/${a.id}`}>${a.name}</a>${a.description ? html`<div class="muted small">${a.description}</div>` : ""}</th>
            <td><code>${a.id}</code></td><td><span class=${"badge " + a.kind}>${a.kind}</span></td><td>${when(a.created)}</td>
            <td class="actions">
              ${a.kind === "REST" ? html`<a class="button small" href=${`#/apis/${a.id}/stages`}>Stages</a>` : ""}
              ${a.kind !== "WEBSOCKET" ? html`<button class="small" onClick=${() => action.run(() => exportApi(a))} aria-label=${`Export ${a.name}`}>Export</button>` : ""}
              <button class="small danger" onClick=${() => remove(a)} aria-label=${`Delete ${a.name}`}>Delete</button></td>
          </tr>`)}
          ${shown.length === 0 ? html`<tr><td colspan="5" class="muted">No APIs yet: create one.</td></tr>` : ""}</tbody>
        </table>`}
      </section>
      <aside class="side"><${CreateApi} done=${go}/><${ImportApi} done=${go}/></aside>
    </div>`;
}
