// The Node.js worker: one Lambda execution environment running a nodejs handler, speaking frames.py's protocol.
//
// Started as `node node_worker.mjs REPLY_FD REQUEST_FD` in the function's code directory. It loads the handler
// once (CommonJS or ES module, as Lambda's Node runtime finds it: FILE.js, .mjs or .cjs), reports READY or the
// init error, then serves requests one at a time: async handlers, handlers returning a promise, and
// callback handlers (three parameters). console.* lines carry the request id as on Lambda.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

const READY = 0, INIT_ERROR = 1, RESULT = 2, ERROR = 3;
const MAX_PAYLOAD_BYTES = 6291556;
const REQUEST_HEAD = 18; // !IHHHQ
const replyFd = Number(process.argv[2]);
const requestFd = Number(process.argv[3]);
let currentRequestId = undefined;

function send(kind, body, durationMs) {
  const head = Buffer.alloc(17); // !IBId
  head.writeUInt32BE(body.length, 0);
  head.writeUInt8(kind, 4);
  head.writeUInt32BE(Math.min(process.resourceUsage().maxRSS, 0xffffffff), 5);
  head.writeDoubleBE(durationMs, 9);
  let data = Buffer.concat([head, body]);
  while (data.length) data = data.subarray(fs.writeSync(replyFd, data));
}

function out(line) {
  let data = Buffer.from(line);
  while (data.length) data = data.subarray(fs.writeSync(1, data));
}

// Lambda's format: timestamp, request id, level, message (util.format of the arguments).
import util from "node:util";
for (const [name, level] of [["log", "INFO"], ["info", "INFO"], ["warn", "WARN"], ["error", "ERROR"],
  ["debug", "DEBUG"], ["trace", "TRACE"]]) {
  console[name] = (...args) => {
    const message = util.format(...args).replace(/\n/g, "\r");
    out(`${new Date().toISOString()}\t${currentRequestId ?? "undefined"}\t${level}\t${message}\n`);
  };
}

function errorDocument(err) {
  if (err instanceof Error) {
    return { errorType: err.name, errorMessage: err.message, trace: String(err.stack || "").split("\n") };
  }
  return { errorType: typeof err === "string" ? "string" : typeof err, errorMessage: String(err), trace: [] };
}

class Fault extends Error {
  constructor(type, message) {
    super(message);
    this.name = type;
  }
}

async function loadHandler(spec) {
  const dot = spec.lastIndexOf(".");
  if (dot < 1) throw new Fault("Runtime.MalformedHandlerName", "Bad handler");
  const moduleName = spec.slice(0, dot), functionName = spec.slice(dot + 1);
  const root = process.env.LAMBDA_TASK_ROOT || process.cwd();
  let file = null;
  for (const ext of [".js", ".mjs", ".cjs"]) {
    const candidate = path.join(root, moduleName + ext);
    if (fs.existsSync(candidate)) { file = candidate; break; }
  }
  if (file === null) {
    throw new Fault("Runtime.ImportModuleError", `Error: Cannot find module '${moduleName}'`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (e) {
    if (e instanceof SyntaxError) throw new Fault("Runtime.UserCodeSyntaxError", `${e.name}: ${e.message}`);
    throw new Fault("Runtime.ImportModuleError", `${e.name}: ${e.message}`);
  }
  let handler = mod[functionName];
  if (handler === undefined && mod.default) handler = mod.default[functionName];
  if (typeof handler !== "function") {
    throw new Fault("Runtime.HandlerNotFound", `${moduleName}.${functionName} is undefined or not exported`);
  }
  return handler;
}

function context(requestId, arn, deadlineMs) {
  const env = process.env;
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: arn,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(deadlineMs - Date.now(), 0),
    done: undefined, succeed: undefined, fail: undefined,
  };
}

function invoke(handler, event, ctx) {
  return new Promise((resolve, reject) => {
    const callback = (err, result) => (err ? reject(err) : resolve(result));
    ctx.done = callback;
    ctx.succeed = (result) => resolve(result);
    ctx.fail = (err) => reject(err);
    try {
      const returned = handler(event, ctx, callback);
      if (returned && typeof returned.then === "function") returned.then(resolve, reject);
      else if (handler.length < 3 && returned !== undefined) resolve(returned);
      else if (handler.length < 3) resolve(returned);
    } catch (e) {
      reject(e);
    }
  });
}

async function serve(handler) {
  const stream = fs.createReadStream(null, { fd: requestFd, highWaterMark: 1 << 16 });
  let buffered = Buffer.alloc(0);
  for await (const chunk of stream) {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= REQUEST_HEAD) {
      const payloadLen = buffered.readUInt32BE(0), idLen = buffered.readUInt16BE(4);
      const arnLen = buffered.readUInt16BE(6), traceLen = buffered.readUInt16BE(8);
      const deadlineMs = Number(buffered.readBigUInt64BE(10));
      const total = REQUEST_HEAD + idLen + arnLen + traceLen + payloadLen;
      if (buffered.length < total) break;
      let at = REQUEST_HEAD;
      const requestId = buffered.toString("utf8", at, at += idLen);
      const arn = buffered.toString("utf8", at, at += arnLen);
      const trace = buffered.toString("utf8", at, at += traceLen);
      const payload = buffered.toString("utf8", at, total);
      buffered = buffered.subarray(total);
      currentRequestId = requestId;
      // As Lambda's Node.js runtime: the X-Ray header of this invocation, for the SDKs that read it.
      if (trace) process.env._X_AMZN_TRACE_ID = trace; else delete process.env._X_AMZN_TRACE_ID;
      const started = performance.now();
      let kind, body;
      try {
        let event;
        try {
          event = JSON.parse(payload);
        } catch (e) {
          throw new Fault("Runtime.UnmarshalError", `Unable to unmarshal input: ${e.message}`);
        }
        const result = await invoke(handler, event, context(requestId, arn, deadlineMs));
        kind = RESULT;
        body = Buffer.from(result === undefined ? "null" : JSON.stringify(result));
      } catch (err) {
        const document = errorDocument(err);
        console.error(`Invoke Error \t${JSON.stringify(document)}`);
        kind = ERROR;
        body = Buffer.from(JSON.stringify(document));
      }
      if (body.length > MAX_PAYLOAD_BYTES) {
        kind = ERROR;
        body = Buffer.from(JSON.stringify({
          errorType: "Function.ResponseSizeTooLarge",
          errorMessage: "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
        }));
      }
      send(kind, body, performance.now() - started);
      currentRequestId = undefined;
    }
  }
}

let handler;
try {
  handler = await loadHandler(process.env._HANDLER || "");
} catch (err) {
  const document = errorDocument(err);
  delete document.trace;
  console.error(`${document.errorType}: ${document.errorMessage}`);
  send(INIT_ERROR, Buffer.from(JSON.stringify(document)), 0);
  process.exit(1);
}
send(READY, Buffer.alloc(0), 0);
await serve(handler);
