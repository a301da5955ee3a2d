// The console's shell: sign-in (under --admin-key), navigation and the hash router.
import { html, render, useState, useEffect, useRef, Field, ErrorNote } from "./ui.js";
import { config, loadConfig, credentials, signIn, signOut, call } from "./api.js";
import { ApisPage } from "./apis.js";
import { RestApiPage } from "./editor.js";
import { StagesPage } from "./stages.js";
import { HttpApiPage } from "./httpapi.js";
import { FunctionsPage, FunctionPage } from "./functions.js";
import { KeysPage } from "./keys.js";
import { WatchPage } from "./watch.js";

function route(hash) {
  const parts = hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  return { name: parts[0] || "apis", args: parts.slice(1) };
}

function SignIn() {
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    const creds = {
      accessKeyId: form.get("accessKeyId").trim(),
      secretAccessKey: form.get("secretAccessKey").trim(),
      sessionToken: form.get("sessionToken").trim() || undefined,
    };
    signIn(creds);
    setBusy(true);
    try {
      await call("GET", "/restapis", { query: { limit: 1 } });
      location.hash = "#/apis";
    } catch (e) {
      if (e.status === 403 && !/not authorized/.test(e.message)) signOut();
      else location.hash = "#/apis"; // signed correctly, just not allowed to list REST APIs
      setError(e);
    } finally { setBusy(false); }
  };
  return html`<main id="main" class="signin">
    <h1 tabindex="-1">Sign in to apigate</h1>
    <p>This gateway signs every management call (<code>serve --admin-key</code>). Enter the admin key or an IAM
    user's access key: the console signs each call with them in this tab (kept in session storage only) and can do
    exactly what that identity may do with boto3.</p>
    <form onSubmit=${submit}>
      <${Field} label="Access key ID">${(id) => html`<input id=${id} name="accessKeyId" required autocomplete="username"/>`}<//>
      <${Field} label="Secret access key">${(id) => html`<input id=${id} name="secretAccessKey" type="password" required autocomplete="current-password"/>`}<//>
      <${Field} label="Session token (optional)">${(id) => html`<input id=${id} name="sessionToken"/>`}<//>
      <button type="submit" disabled=${busy}>Sign in</button>
      <${ErrorNote} error=${error}/>
    </form>
  </main>`;
}

const NAV = [["apis", "APIs"], ["functions", "Functions"], ["keys", "Keys & usage"], ["watch", "Watch"]];

function App() {
  const [where, setWhere] = useState(route(location.hash));
  const heading = useRef(null);
  useEffect(() => {
    const changed = () => setWhere(route(location.hash));
    addEventListener("hashchange", changed);
    return () => removeEventListener("hashchange", changed);
  }, []);
  // After a navigation between pages, move focus to the new page's heading (where a screen reader user expects
  // to be); a change within a page (a method's part, a stage) keeps the focus where the user is.
  const shownPage = useRef("");
  useEffect(() => {
    const h1 = document.querySelector("main h1");
    const key = `${where.name}/${where.args[0] || ""}/${where.args[1] === "stages" ? "stages" : ""}`;
    if (h1 && shownPage.current && shownPage.current !== key) h1.focus({ preventScroll: true });
    shownPage.current = key;
    document.title = (h1 ? h1.textContent + " · " : "") + "apigate console";
  });
  const signedOut = config.signed && !credentials();
  if (signedOut || where.name === "signin") return html`<${SignIn}/>`;
  const { name, args } = where;
  let page;
  if (name === "apis" && args.length === 0) page = html`<${ApisPage}/>`;
  else if (name === "apis" && args[1] === "stages") page = html`<${StagesPage} apiId=${args[0]} stage=${args[2]}/>`;
  else if (name === "apis") page = html`<${RestApiPage} apiId=${args[0]} args=${args.slice(1)}/>`;
  else if (name === "http") page = html`<${HttpApiPage} apiId=${args[0]}/>`;
  else if (name === "functions" && args.length) page = html`<${FunctionPage} name=${args[0]}/>`;
  else if (name === "functions") page = html`<${FunctionsPage}/>`;
  else if (name === "keys") page = html`<${KeysPage}/>`;
  else if (name === "watch") page = html`<${WatchPage}/>`;
  else page = html`<h1 tabindex="-1">Not found</h1><p><a href="#/apis">Back to the APIs</a></p>`;
  const who = credentials();
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/apis">apigate</a>
      <nav aria-label="Console"><ul>${NAV.map(([key, text]) => html`<li><a href=${"#/" + key}
        aria-current=${name === key || (key === "apis" && name === "http") ? "page" : undefined}>${text}</a></li>`)}</ul></nav>
      <span class="who">${config.region}${who ? html` · ${who.accessKeyId} <button class="small" onClick=${() => { signOut(); location.hash = "#/signin"; }}>Sign out</button>` : " · loopback"}</span>
    </header>
    <main id="main" tabindex="-1" ref=${heading}>${page}</main>`;
}

loadConfig().then(() => {
  const root = document.getElementById("root");
  root.textContent = ""; // the "Loading" note the HTML shows before the modules arrive
  render(html`<${App}/>`, root);
});
