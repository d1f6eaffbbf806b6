// The endpoints of the original HTTP API, each a translation: JSON in → one command of the
// node's registry → JSON out. No rule is checked here that the command does not check itself;
// only the HTTP shapes (field names, defaults, statuses) live in this file.
import { SinkronError } from "../protocol/errors.ts";
import type { CacheGetResult, CacheMetricsResult, StatusResult } from "../protocol/commands.ts";
import type { Args } from "../protocol/envelope.ts";
import { readJsonObject } from "./body.ts";
import type { Dispatch } from "./dispatch.ts";
import { json } from "./responses.ts";
import { metricsJson, prometheusText, wantsPrometheus, PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
import type { HttpStats } from "./stats.ts";
import type { Route } from "./router.ts";
import { OPENAPI_DOCUMENT } from "./openapi.ts";

/** The queue `/produce`, `/consume` and `/ack` use when the request names none (the original's). */
export const DEFAULT_QUEUE = "default";

export interface ApiRequest {
  readonly request: Request;
  readonly url: URL;
  readonly params: Record<string, string>;
  readonly dispatch: Dispatch;
  readonly signal: AbortSignal;
  readonly bodyBytesMax: number;
  readonly stats: HttpStats;
}

export type Endpoint = (req: ApiRequest) => Promise<Response>;

const LOCK_MODES = { ACQUIRE_SHARED: "shared", ACQUIRE_EXCLUSIVE: "exclusive" } as const;

const body = (req: ApiRequest) => readJsonObject(req.request, req.bodyBytesMax);

/**
 * Runs a command; a refusal that names a command argument names the HTTP field instead
 * (`fields`: argument → field), so the caller reads `'lock_name'`, not `'name'`.
 */
async function call<T>(req: ApiRequest, command: string, args: Args, fields: Record<string, string> = {}): Promise<T> {
  try {
    return (await req.dispatch(command, args, req.signal)) as T;
  } catch (error) {
    if (!(error instanceof SinkronError)) throw error;
    const argument = error.details.argument;
    const field = typeof argument === "string" ? fields[argument] : undefined;
    if (field === undefined) throw error;
    throw new SinkronError(error.code, error.message.replace(`argument '${argument}'`, `field '${field}'`), { ...error.details, argument: field });
  }
}

const LOCK_FIELDS = { name: "lock_name", owner: "client_id", waitMs: "timeout_ms", ttlMs: "ttl_ms" };
const QUEUE_FIELDS = { body: "message", id: "msg_id", waitMs: "wait_ms", visibilityMs: "visibility_ms" };

/** Drops undefined fields, so an absent optional field stays absent for the command's schema. */
function defined(args: Record<string, unknown>): Args {
  return Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
}

async function lock(req: ApiRequest): Promise<Response> {
  const b = await body(req);
  const owner = b.client_id;
  if (b.action === "RELEASE") {
    await call(req, "LOCK.RELEASE", { name: b.lock_name, owner }, LOCK_FIELDS);
    return json(202, { status: "released" });
  }
  const mode = typeof b.action === "string" ? LOCK_MODES[b.action as keyof typeof LOCK_MODES] : undefined;
  if (mode === undefined) throw new SinkronError("BAD_REQUEST", "action must be ACQUIRE_SHARED, ACQUIRE_EXCLUSIVE or RELEASE", { argument: "action" });
  const grant = await call<{ token: number; mode: string }>(req, "LOCK.ACQUIRE", defined({ name: b.lock_name, mode, owner, waitMs: b.timeout_ms, ttlMs: b.ttl_ms }), LOCK_FIELDS);
  return json(202, { status: "granted", lock_name: b.lock_name, mode: grant.mode, token: grant.token });
}

function raftState(role: string): "leader" | "follower" | "candidate" {
  if (role === "leader") return "leader";
  return role === "candidate" || role === "precandidate" ? "candidate" : "follower";
}

async function status(req: ApiRequest): Promise<Response> {
  const s = await call<StatusResult>(req, "STATUS", {});
  return json(200, { node: s.node, state: raftState(s.role), current_term: s.term, leader: s.leader, commit_index: s.commitIndex, members: s.members });
}

async function health(req: ApiRequest): Promise<Response> {
  const s = await call<StatusResult>(req, "STATUS", {});
  if (s.leader === null) return json(503, { status: "unavailable", error: "UNAVAILABLE", message: "no leader of the metadata group is known", node: s.node });
  return json(200, { status: "ok", node: s.node, leader: s.leader });
}

/** The original's messages are strings; any other JSON value is carried as its JSON text. */
function messageBody(message: unknown): string | undefined {
  if (message === undefined || message === null) return undefined;
  return typeof message === "string" ? message : JSON.stringify(message);
}

async function produce(req: ApiRequest): Promise<Response> {
  const b = await body(req);
  const result = await call<{ id: string }>(req, "Q.PRODUCE", defined({ queue: b.queue ?? DEFAULT_QUEUE, body: messageBody(b.message), key: b.key ?? undefined }), QUEUE_FIELDS);
  return json(200, { status: "ok", msg_id: result.id });
}

function queryInt(url: URL, name: string): number | undefined {
  const text = url.searchParams.get(name);
  if (text === null || text === "") return undefined;
  if (!/^\d{1,10}$/.test(text)) throw new SinkronError("BAD_REQUEST", `query parameter '${name}' must be a non-negative integer`, { argument: name });
  return Number(text);
}

async function consume(req: ApiRequest): Promise<Response> {
  const args = defined({
    queue: req.url.searchParams.get("queue") || DEFAULT_QUEUE,
    max: 1,
    waitMs: queryInt(req.url, "wait_ms"),
    visibilityMs: queryInt(req.url, "visibility_ms"),
  });
  const messages = await call<{ id: string; body: string | Uint8Array; deliveries: number }[]>(req, "Q.CONSUME", args, QUEUE_FIELDS);
  const first = messages[0];
  if (first === undefined) return new Response(null, { status: 204 });
  const message = typeof first.body === "string" ? first.body : new TextDecoder().decode(first.body);
  return json(200, { msg_id: first.id, message, deliveries: first.deliveries });
}

async function ack(req: ApiRequest): Promise<Response> {
  const b = await body(req);
  await call(req, "Q.ACK", { queue: b.queue ?? DEFAULT_QUEUE, id: b.msg_id }, QUEUE_FIELDS);
  return json(200, { status: "ok" });
}

async function read(req: ApiRequest): Promise<Response> {
  const key = req.params.key!;
  const result = await call<CacheGetResult>(req, "CACHE.GET", { key });
  return json(200, { key, value: result.value, source: result.source });
}

async function write(req: ApiRequest): Promise<Response> {
  const b = await body(req);
  await call(req, "CACHE.SET", { key: b.key, value: b.value });
  return json(200, { status: "ok" });
}

async function invalidate(req: ApiRequest): Promise<Response> {
  const b = await body(req);
  const result = await call<{ invalidated: number }>(req, "CACHE.INVALIDATE", defined({ key: b.key ?? undefined }));
  return json(200, { invalidated: result.invalidated });
}

async function metrics(req: ApiRequest): Promise<Response> {
  const [s, cache] = await Promise.all([call<StatusResult>(req, "STATUS", {}), call<CacheMetricsResult>(req, "CACHE.METRICS", {})]);
  if (wantsPrometheus(req.request.headers.get("accept"))) {
    return new Response(prometheusText(s, cache, req.stats), { status: 200, headers: { "content-type": PROMETHEUS_CONTENT_TYPE } });
  }
  return json(200, metricsJson(s, cache));
}

async function openapi(): Promise<Response> {
  return json(200, OPENAPI_DOCUMENT);
}

export const ROUTES: readonly Route<Endpoint>[] = [
  { method: "POST", path: "/lock", handler: lock },
  { method: "GET", path: "/status", handler: status },
  { method: "POST", path: "/produce", handler: produce },
  { method: "GET", path: "/consume", handler: consume },
  { method: "POST", path: "/ack", handler: ack },
  { method: "GET", path: "/read/{key}", handler: read },
  { method: "POST", path: "/write", handler: write },
  { method: "POST", path: "/invalidate", handler: invalidate },
  { method: "GET", path: "/metrics", handler: metrics },
  { method: "GET", path: "/health", handler: health },
  { method: "GET", path: "/openapi.json", handler: openapi },
];

/** Endpoints whose command may wait (lock waits, long polls): the idle timeout must not cut them. */
export const WAITING_PATHS: ReadonlySet<string> = new Set(["/lock", "/consume"]);
