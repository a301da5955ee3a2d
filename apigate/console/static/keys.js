// Keys and usage: API keys, usage plans (throttle, quota, stages, keys) and each key's daily usage as charts.
import { html, useState, useLoad, useAction, ErrorNote, Loading, Field, CopyButton, when } from "./ui.js";
import { call, p, listAll } from "./api.js";
import { Bars } from "./charts.js";

const day = (d) => d.toISOString().slice(0, 10);

async function loadKeys() {
  const [keys, plans] = await Promise.all([listAll("/apikeys", "item", { includeValues: true }), listAll("/usageplans")]);
  const planKeys = Object.fromEntries(await Promise.all(plans.map(async (plan) => [plan.id, await listAll(p`/usageplans/${plan.id}/keys`)])));
  return { keys, plans, planKeys };
}

// Every REST API's stages, for the plan form: one call per API, so loaded after the page shows.
async function loadStages() {
  const apis = await listAll("/restapis");
  return (await Promise.all(apis.map(async (a) => {
    const list = (await call("GET", p`/restapis/${a.id}/stages`)).item || [];
    return list.map((s) => ({ apiId: a.id, apiName: a.name, stage: s.stageName }));
  }))).flat().sort((x, y) => `${x.apiName} ${x.stage}`.localeCompare(`${y.apiName} ${y.stage}`));
}

function Usage({ plan, keys }) {
  const end = new Date(), start = new Date(Date.now() - 6 * 86400000);
  const [usage, error] = useLoad(() => call("GET", p`/usageplans/${plan.id}/usage`, { query: { startDate: day(start), endDate: day(end) } }), [plan.id]);
  if (error) return html`<${ErrorNote} error=${error}/>`;
  if (!usage) return html`<${Loading} what="usage"/>`;
  const labels = [];
  for (let d = new Date(start); d <= end; d = new Date(d.getTime() + 86400000)) labels.push(day(d).slice(5));
  const items = Object.entries(usage.items || usage.values || {});
  if (!items.length) return html`<p class="muted">No usage in the last 7 days.</p>`;
  return html`<div class="charts">${items.map(([keyId, rows]) => {
    const key = keys.find((k) => k.id === keyId);
    return html`<${Bars} label=${`Requests per day, key ${key ? key.name : keyId}`} values=${rows.map((r) => r[0])} labels=${labels}/>`;
  })}</div>`;
}

function PlanForm({ done }) {
  const action = useAction();
  const [stages, stagesError] = useLoad(loadStages, []);
  const submit = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const body = { name: form.get("name"), apiStages: form.getAll("stage").map((s) => { const [apiId, stage] = s.split("|"); return { apiId, stage }; }) };
    if (form.get("rate")) body.throttle = { rateLimit: Number(form.get("rate")), burstLimit: Number(form.get("burst") || form.get("rate")) };
    if (form.get("quota")) body.quota = { limit: Number(form.get("quota")), period: form.get("period") };
    action.run(async () => { await call("POST", "/usageplans", { body }); event.target.reset(); done(); });
  };
  return html`<form class="card stack" onSubmit=${submit} aria-labelledby="plan-heading">
    <h2 id="plan-heading">Create usage plan</h2>
    <${Field} label="Plan name">${(id) => html`<input id=${id} name="name" required/>`}<//>
    <fieldset class="choice"><legend>API stages</legend>
      <${ErrorNote} error=${stagesError}/>
      ${stages === undefined ? html`<${Loading} what="stages"/>` : stages.length ? stages.map((s) => html`<label><input type="checkbox" name="stage" value=${`${s.apiId}|${s.stage}`}/> ${s.apiName} · ${s.stage}</label>`) : html`<span class="muted">Deploy an API first.</span>`}
    </fieldset>
    <div class="grid2">
      <${Field} label="Rate (requests per second)">${(id) => html`<input id=${id} name="rate" type="number" min="0" step="any"/>`}<//>
      <${Field} label="Burst">${(id) => html`<input id=${id} name="burst" type="number" min="0"/>`}<//>
      <${Field} label="Quota (requests)">${(id) => html`<input id=${id} name="quota" type="number" min="1"/>`}<//>
      <${Field} label="Per">${(id) => html`<select id=${id} name="period"><option value="DAY">DAY</option><option value="WEEK">WEEK</option><option value="MONTH">MONTH</option></select>`}<//>
    </div>
    <button type="submit" disabled=${action.busy}>Create usage plan</button>
    <${ErrorNote} error=${action.error}/>
  </form>`;
}

export function KeysPage() {
  const [data, error, reload] = useLoad(loadKeys, []);
  const action = useAction();
  if (error) return html`<h1 tabindex="-1">Keys & usage</h1><${ErrorNote} error=${error}/>`;
  if (!data) return html`<h1 tabindex="-1">Keys & usage</h1><${Loading} what="keys and usage plans"/>`;
  const { keys, plans, planKeys } = data;
  const createKey = (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    action.run(async () => { await call("POST", "/apikeys", { body: { name: form.get("name"), enabled: true, value: form.get("value") || undefined } }); event.target.reset(); reload(); });
  };
  const attach = (plan) => (event) => {
    event.preventDefault();
    const keyId = new FormData(event.target).get("key");
    action.run(async () => { await call("POST", p`/usageplans/${plan.id}/keys`, { body: { keyId, keyType: "API_KEY" } }); reload(); });
  };
  return html`<h1 tabindex="-1">Keys & usage</h1>
    <${ErrorNote} error=${action.error}/>
    <div class="columns">
      <div class="grow stack">
        <section class="card" aria-labelledby="keys-heading">
          <h2 id="keys-heading">API keys</h2>
          <table class="list" id="keys-table"><thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Enabled</th><th scope="col">Created</th><th scope="col"><span class="sr">Actions</span></th></tr></thead>
            <tbody>${keys.map((k) => html`<tr><th scope="row">${k.name}</th><td><code class="secret">${k.value}</code> <${CopyButton} text=${k.value} label="Copy key"/></td>
              <td>${k.enabled ? "yes" : "no"}</td><td>${when(k.createdDate)}</td>
              <td><button class="small danger" aria-label=${`Delete key ${k.name}`} onClick=${() => action.run(async () => { await call("DELETE", p`/apikeys/${k.id}`); reload(); })}>Delete</button></td></tr>`)}
            ${keys.length === 0 ? html`<tr><td colspan="5" class="muted">No API keys.</td></tr>` : ""}</tbody></table>
          <form class="row" onSubmit=${createKey} aria-label="Create API key">
            <${Field} label="Key name">${(id) => html`<input id=${id} name="name" required/>`}<//>
            <${Field} label="Value (optional)">${(id) => html`<input id=${id} name="value" minlength="20"/>`}<//>
            <button type="submit" disabled=${action.busy}>Create API key</button>
          </form>
        </section>
        ${plans.map((plan) => html`<section class="card" aria-labelledby=${"plan-" + plan.id} key=${plan.id}>
          <div class="row"><h2 id=${"plan-" + plan.id}>Usage plan ${plan.name}</h2>
            <button class="small danger" onClick=${() => action.run(async () => {
              for (const k of planKeys[plan.id]) await call("DELETE", p`/usageplans/${plan.id}/keys/${k.id}`);
              await call("DELETE", p`/usageplans/${plan.id}`); reload(); })}>Delete plan</button></div>
          <p>${[plan.throttle ? `Throttle ${plan.throttle.rateLimit} req/s, burst ${plan.throttle.burstLimit}` : "No throttle",
             plan.quota ? `quota ${plan.quota.limit} per ${plan.quota.period}` : "no quota",
             `stages: ${(plan.apiStages || []).map((s) => `${s.apiId}/${s.stage}`).join(", ") || "none"}`].join(" · ")}</p>
          <p>Keys: ${planKeys[plan.id].map((k) => html`<span class="badge">${k.name}</span> `)}${planKeys[plan.id].length ? "" : "none"}</p>
          ${keys.some((k) => !planKeys[plan.id].some((pk) => pk.id === k.id)) ? html`<form class="row" onSubmit=${attach(plan)} aria-label=${`Add a key to ${plan.name}`}>
            <${Field} label="API key">${(id) => html`<select id=${id} name="key">${keys.filter((k) => !planKeys[plan.id].some((pk) => pk.id === k.id)).map((k) => html`<option value=${k.id}>${k.name}</option>`)}</select>`}<//>
            <button type="submit" disabled=${action.busy}>Add key to plan</button>
          </form>` : ""}
          <h3>Usage, last 7 days</h3>
          <${Usage} plan=${plan} keys=${keys}/>
        </section>`)}
      </div>
      <aside class="side"><${PlanForm} done=${reload}/></aside>
    </div>`;
}
