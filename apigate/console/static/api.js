// The management API as boto3 sees it: REST-JSON calls, SigV4-signed in the browser when the gateway wants
// signatures (serve --admin-key). The credentials live in sessionStorage only (gone with the tab).
import { sha256, hmac } from "./sha256.js";

export let config = { region: "us-east-1", accountId: "000000000000", signed: false };

export async function loadConfig() {
  // The gateway writes its config into the page (one round trip less); config.json says the same.
  const meta = document.querySelector('meta[name="apigate-config"]')?.content;
  config = meta ? JSON.parse(meta) : await (await fetch("config.json")).json();
  return config;
}

const KEY = "apigate-console-credentials";
export function credentials() {
  try { return JSON.parse(sessionStorage.getItem(KEY) || "null"); } catch { return null; }
}
export function signIn(creds) { sessionStorage.setItem(KEY, JSON.stringify(creds)); }
export function signOut() { sessionStorage.removeItem(KEY); }

const hex = (bytes) => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
// SigV4's URI encoding: everything but the unreserved characters (the path keeps its slashes).
const uriEncode = (s, slash) =>
  Array.from(new TextEncoder().encode(s), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9\-_.~]/.test(c) || (slash && c === "/") ? c : "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }).join("");

// The service whose scope a path is signed for (as botocore's endpoints would name it); JSON-protocol services
// (POST / with X-Amz-Target) name theirs in the call.
const serviceOf = (path) => (/^\/\d{4}-\d{2}-\d{2}\//.test(path) ? "lambda" : "apigateway");

async function sign(method, path, query, headers, body, creds, service) {
  const now = new Date().toISOString().replace(/[:-]|\.\d{3}/g, "");
  const date = now.slice(0, 8);
  const payload = hex(await sha256(body || ""));
  headers["x-amz-date"] = now;
  headers["x-amz-content-sha256"] = payload;
  if (creds.sessionToken) headers["x-amz-security-token"] = creds.sessionToken;
  const all = { host: location.host, ...headers };
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), String(v).trim()]));
  const canonicalQuery = query
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  // The path as sent is already percent-encoded; SigV4 (non-S3) encodes it once more.
  const canonical = [method, uriEncode(path, true), canonicalQuery,
    names.map((n) => `${n}:${lower[n]}\n`).join(""), names.join(";"), payload].join("\n");
  const scope = `${date}/${config.region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", now, scope, hex(await sha256(canonical))].join("\n");
  let key = await hmac(new TextEncoder().encode("AWS4" + creds.secretAccessKey), date);
  for (const part of [config.region, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  headers["authorization"] =
    `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${names.join(";")}, Signature=${signature}`;
}

export class ApiError extends Error {
  constructor(status, type, message) {
    super(message || type || `HTTP ${status}`);
    this.status = status;
    this.type = type;
  }
}

// One management call. `path` segments must already be encoded (use `p` below); `query` an object.
// Returns the parsed JSON (text with {raw: true}, a Blob with {binary: true}); {full: true} also returns status
// and headers.
// {keepSession: true}: a 403 about the credential is the caller's to judge, not a reason to sign out.
export async function call(method, path, { body, query = {}, headers = {}, raw = false, binary = false, full = false, service, keepSession = false } = {}) {
  const pairs = Object.entries(query).filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [k, String(v)]);
  const text = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  const sent = { ...headers };
  if (text !== undefined && !Object.keys(sent).some((k) => k.toLowerCase() === "content-type")) sent["content-type"] = "application/json";
  const creds = credentials();
  if (creds) await sign(method, path, pairs, sent, text, creds, service || serviceOf(path));
  const search = pairs.length ? "?" + pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join("&") : "";
  const answer = await fetch(path + search, { method, headers: sent, body: text, credentials: "omit", cache: "no-store" });
  if (binary && answer.ok) {
    const blob = await answer.blob();
    return full ? { status: answer.status, headers: answer.headers, value: blob } : blob;
  }
  const data = await answer.text();
  if (!answer.ok) {
    let type = answer.headers.get("x-amzn-errortype") || "", message = data;
    try {
      const parsed = JSON.parse(data);
      message = parsed.message || parsed.Message || data;
      type = type || parsed.__type || "";
    } catch { /* not JSON */ }
    if (answer.status === 403 && config.signed && !keepSession && /signature|security token|credential/i.test(message)) {
      signOut();
      location.hash = "#/signin";
    }
    throw new ApiError(answer.status, type.split(":")[0], message);
  }
  const value = raw ? data : data ? JSON.parse(data) : {};
  return full ? { status: answer.status, headers: answer.headers, value } : value;
}

// A path from segments, each URI-encoded: p`/restapis/${id}/resources/${rid}`.
export function p(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ""), "");
}

// Every page of a paged list (REST: position/items; v2: nextToken/items; Lambda: NextMarker/Functions).
export async function listAll(path, field = "item", query = {}) {
  const items = [];
  let token = null;
  for (let page = 0; page < 50; page++) {
    const q = { ...query };
    if (path.startsWith("/v2/")) { q.maxResults = 500; if (token) q.nextToken = token; }
    else if (path.startsWith("/2015")) { q.MaxItems = 50; if (token) q.Marker = token; }
    else { q.limit = 500; if (token) q.position = token; }
    const answer = await call("GET", path, { query: q });
    items.push(...(answer[field] || answer.items || answer.Items || []));
    token = answer.position || answer.nextToken || answer.NextToken || answer.NextMarker;
    if (!token) break;
  }
  return items;
}

export function functionArn(name) {
  return `arn:aws:lambda:${config.region}:${config.accountId}:function:${name}`;
}
export function lambdaUri(name) {
  return `arn:aws:apigateway:${config.region}:lambda:path/2015-03-31/functions/${functionArn(name)}/invocations`;
}
export function functionFromUri(uri) {
  const found = /function:([^/:]+)/.exec(uri || "");
  return found ? found[1] : "";
}
export function invokeUrl(apiId, stage) {
  return `${location.origin}/_aws/execute-api/${apiId}/${stage}`;
}
