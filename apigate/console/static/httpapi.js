// HTTP and WebSocket APIs (apigatewayv2): routes, integrations, stages with their invoke URLs, export.
import { html, useLoad, useAction, ErrorNote, Loading, Field, CopyButton, download, when } from "./ui.js";
import { call, p, listAll, lambdaUri, functionFromUri, functionArn } from "./api.js";

async function loadApi(apiId) {
  const [api, routes, integrations, stages, functions] = await Promise.all([
    call("GET", p`/v2/apis/${apiId}`),
    listAll(p`/v2/apis/${apiId}/routes`),
    listAll(p`/v2/apis/${apiId}/integrations`),
    listAll(p`/v2/apis/${apiId}/stages`),
    listAll("/2015-03-31/functions", "Functions").then((fs) => fs.map((f) => f.FunctionName).sort()),
  ]);
  return { api, routes, integrations, stages, functions };
}

export function HttpApiPage({ apiId }) {
  const [data, error, reload] = useLoad(() => loadApi(apiId), [apiId]);
  const action = useAction();
  if (error) return html`<h1 tabindex="-1">API ${apiId}</h1><${ErrorNote} error=${error}/>`;
  if (!data) return html`<h1 tabindex="-1">API</h1><${Loading} what="the API"/>`;
  const { api, routes, integrations, stages, functions } = data;
  const ws = api.protocolType === "WEBSOCKET";
  const byId = Object.fromEntries(integrations.map((i) => [i.integrationId, i]));
  const addRoute = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    action.run(async () => {
      const fn = form.get("function");
      const integration = await call("POST", p`/v2/apis/${apiId}/integrations`, { body: ws
        ? { integrationType: "AWS_PROXY", integrationUri: lambdaUri(fn) }
        : { integrationType: "AWS_PROXY", integrationUri: functionArn(fn), payloadFormatVersion: "2.0" } });
      await call("POST", p`/v2/apis/${apiId}/routes`, { body: { routeKey: form.get("routeKey"), target: `integrations/${integration.integrationId}` } });
      event.target.reset(); reload();
    });
  };
  const addStage = (event) => {
    event.preventDefault();
    const name = new FormData(event.target).get("stage");
    action.run(async () => {
      await call("POST", p`/v2/apis/${apiId}/stages`, { body: { stageName: name, autoDeploy: !ws } });
      if (ws) await call("POST", p`/v2/apis/${apiId}/deployments`, { body: { stageName: name } });
      reload();
    });
  };
  const exportApi = () => action.run(async () => {
    download(`${api.name}-oas30.json`, await call("GET", p`/v2/exports/${apiId}`, { query: { specification: "OAS30", outputType: "JSON" }, raw: true }));
  });
  const url = (stage) => `${ws ? location.origin.replace(/^http/, "ws") : location.origin}/_aws/execute-api/${apiId}/${stage === "$default" ? "" : stage}`;
  return html`
    <div class="row"><h1 tabindex="-1">${api.name}</h1><span class=${"badge " + api.protocolType}>${api.protocolType}</span><code>${api.apiId}</code>
      ${ws ? "" : html`<button class="small" onClick=${exportApi}>Export OpenAPI</button>`}</div>
    <${ErrorNote} error=${action.error}/>
    <div class="columns">
      <section class="card grow" aria-labelledby="routes-heading">
        <h2 id="routes-heading">Routes</h2>
        <table class="list"><thead><tr><th scope="col">Route</th><th scope="col">Integration</th><th scope="col">Authorization</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
          <tbody>${routes.map((r) => { const i = byId[(r.target || "").replace("integrations/", "")];
            return html`<tr><th scope="row"><code>${r.routeKey}</code></th>
              <td>${i ? `${i.integrationType} ${functionFromUri(i.integrationUri) || i.integrationUri || ""}` : "—"}</td><td>${r.authorizationType || "NONE"}</td>
              <td><button class="small danger" aria-label=${`Delete route ${r.routeKey}`} onClick=${() => action.run(async () => { await call("DELETE", p`/v2/apis/${apiId}/routes/${r.routeId}`); reload(); })}>Delete</button></td></tr>`; })}</tbody></table>
        <form class="row" onSubmit=${addRoute} aria-label="Add route">
          <${Field} label="Route key">${(id) => html`<input id=${id} name="routeKey" required placeholder=${ws ? "$default" : "GET /items/{id}"}/>`}<//>
          <${Field} label="Lambda function">${(id) => html`<select id=${id} name="function" required>${functions.map((f) => html`<option value=${f}>${f}</option>`)}</select>`}<//>
          <button type="submit" disabled=${action.busy || !functions.length}>Add route</button>
        </form>
      </section>
      <section class="card side" aria-labelledby="v2-stages-heading">
        <h2 id="v2-stages-heading">Stages</h2>
        <ul class="plain">${stages.map((s) => html`<li><strong>${s.stageName}</strong> ${s.autoDeploy ? html`<span class="badge">auto-deploy</span>` : ""}
          <div class="invoke"><code>${url(s.stageName)}</code> <${CopyButton} text=${url(s.stageName)} label="Copy URL"/></div>
          <small class="muted">updated ${when(s.lastUpdatedDate)}</small></li>`)}</ul>
        <form class="row" onSubmit=${addStage} aria-label="Create stage">
          <${Field} label="Stage name">${(id) => html`<input id=${id} name="stage" required value=${stages.length ? "" : "$default"}/>`}<//>
          <button type="submit" disabled=${action.busy}>${ws ? "Create and deploy" : "Create stage"}</button>
        </form>
      </section>
    </div>`;
}
