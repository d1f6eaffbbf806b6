// The OpenAPI 3.1 description of the HTTP API, served at /openapi.json. The tests check that
// every answer the server gives is described here (path, method and status).
import { HTTP_BODY_BYTES_MAX } from "./body.ts";

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const obj = (properties: Record<string, Schema>, required: string[] = []): Schema => ({ type: "object", properties, required });
const str = (description?: string): Schema => (description === undefined ? { type: "string" } : { type: "string", description });
const int = (description?: string): Schema => (description === undefined ? { type: "integer", minimum: 0 } : { type: "integer", minimum: 0, description });

const jsonContent = (schema: Schema) => ({ "application/json": { schema } });
const answer = (description: string, schema?: Schema) => (schema === undefined ? { description } : { description, content: jsonContent(schema) });
const refusal = (description: string) => answer(description, ref("Error"));

const jsonBody = (schema: Schema) => ({ required: true, content: jsonContent(schema) });

/** Answers every endpoint may give besides its own. */
const COMMON = { "500": refusal("the node failed unexpectedly"), "503": refusal("no leader known or the service is unavailable; retry") };
const BODY_REFUSALS = { "400": refusal("malformed JSON or an invalid field; nothing changed"), "413": refusal(`the body is larger than ${HTTP_BODY_BYTES_MAX} bytes; nothing changed`) };

export const OPENAPI_DOCUMENT = {
  openapi: "3.1.0",
  info: {
    title: "sinkron HTTP API",
    version: "1.0.0",
    description: "The original HTTP/JSON API, served by every node started with --http; a thin adapter over the binary protocol's commands.",
  },
  paths: {
    "/lock": {
      post: {
        summary: "acquire (shared or exclusive) or release a lock (LOCK.ACQUIRE / LOCK.RELEASE)",
        requestBody: jsonBody(obj({
          action: { type: "string", enum: ["ACQUIRE_SHARED", "ACQUIRE_EXCLUSIVE", "RELEASE"] },
          lock_name: str(),
          client_id: str("the holder: the same for all requests of one holder"),
          timeout_ms: int("how long to wait for the lock (default 30000; 0: try once)"),
          ttl_ms: int("lease: released this long after the grant"),
        }, ["action", "lock_name", "client_id"])),
        responses: {
          "202": answer("granted or released", { oneOf: [ref("LockGranted"), obj({ status: { const: "released" } }, ["status"])] }),
          ...BODY_REFUSALS,
          "404": refusal("release of a lock not held by client_id"),
          "408": refusal("the wait ran out"),
          "423": refusal("deadlock: waiting would close a waits-for cycle (the body's `cycle` says which)"),
          ...COMMON,
        },
      },
    },
    "/status": {
      get: {
        summary: "this node's view of the cluster (STATUS)",
        responses: { "200": answer("the node's Raft state", ref("Status")), ...COMMON },
      },
    },
    "/produce": {
      post: {
        summary: "add a message to a queue (Q.PRODUCE)",
        requestBody: jsonBody(obj({ message: { description: "a string (any other JSON value is carried as its JSON text)" }, key: str("messages with one key keep their order"), queue: str("default: 'default'") }, ["message"])),
        responses: { "200": answer("durable on a majority", obj({ status: { const: "ok" }, msg_id: str() }, ["status", "msg_id"])), ...BODY_REFUSALS, ...COMMON },
      },
    },
    "/consume": {
      get: {
        summary: "take one ready message (Q.CONSUME), long-polling up to wait_ms",
        parameters: [
          { name: "queue", in: "query", schema: str("default: 'default'") },
          { name: "visibility_ms", in: "query", schema: int("redelivered when not acked within this (default 30000)") },
          { name: "wait_ms", in: "query", schema: int("long-poll this long when nothing is ready (default 0)") },
        ],
        responses: {
          "200": answer("a message", obj({ msg_id: str(), message: str(), deliveries: int() }, ["msg_id", "message", "deliveries"])),
          "204": answer("no message was ready within wait_ms"),
          "400": refusal("an invalid query parameter"),
          ...COMMON,
        },
      },
    },
    "/ack": {
      post: {
        summary: "acknowledge a consumed message (Q.ACK)",
        requestBody: jsonBody(obj({ msg_id: str(), queue: str("default: 'default'") }, ["msg_id"])),
        responses: { "200": answer("acknowledged", ref("Ok")), ...BODY_REFUSALS, "404": refusal("unknown or no longer in-flight message id"), ...COMMON },
      },
    },
    "/read/{key}": {
      get: {
        summary: "coherent cache read (CACHE.GET)",
        parameters: [{ name: "key", in: "path", required: true, schema: str() }],
        responses: {
          "200": answer("the value", obj({ key: str(), value: {}, source: { type: "string", enum: ["cache", "store"] } }, ["key", "value", "source"])),
          "400": refusal("an invalid key"),
          "404": refusal("no such key"),
          ...COMMON,
        },
      },
    },
    "/write": {
      post: {
        summary: "coherent cache write (CACHE.SET)",
        requestBody: jsonBody(obj({ key: str(), value: { description: "any JSON value" } }, ["key", "value"])),
        responses: { "200": answer("written; every other copy invalidated", ref("Ok")), ...BODY_REFUSALS, ...COMMON },
      },
    },
    "/invalidate": {
      post: {
        summary: "drop this node's cached copies of one key, or all (CACHE.INVALIDATE)",
        requestBody: { required: false, content: jsonContent(obj({ key: str() })) },
        responses: { "200": answer("lines dropped", obj({ invalidated: int() }, ["invalidated"])), ...BODY_REFUSALS, ...COMMON },
      },
    },
    "/metrics": {
      get: {
        summary: "Prometheus text when Accept asks for text/plain or OpenMetrics; otherwise the original JSON",
        responses: {
          "200": {
            description: "the metrics",
            content: {
              "text/plain": { schema: { type: "string" } },
              "application/json": { schema: obj({ cache_hits: int(), cache_misses: int(), hit_rate: { type: "number" }, writes: int(), invalidations: int(), evictions: int(), entries: int(), bytes: int() }) },
            },
          },
          ...COMMON,
        },
      },
    },
    "/health": {
      get: {
        summary: "200 when the node knows the leader of the metadata group (for healthchecks)",
        responses: { "200": answer("serving", obj({ status: { const: "ok" }, node: str(), leader: str() })), "503": refusal("no leader known"), "500": COMMON["500"] },
      },
    },
    "/openapi.json": {
      get: { summary: "this document", responses: { "200": answer("the OpenAPI 3.1 document", { type: "object" }) } },
    },
  },
  components: {
    schemas: {
      Error: obj({ error: str("a protocol error code: BAD_REQUEST, NOT_FOUND, TIMEOUT, DEADLOCK, TOO_LARGE, UNAVAILABLE, ..."), message: str() }, ["error", "message"]),
      Ok: obj({ status: { const: "ok" } }, ["status"]),
      LockGranted: obj({ status: { const: "granted" }, lock_name: str(), mode: { type: "string", enum: ["shared", "exclusive"] }, token: int("fencing token: grows with every grant of the lock") }, ["status", "lock_name", "mode", "token"]),
      Status: obj({
        node: str(),
        state: { type: "string", enum: ["leader", "follower", "candidate"] },
        current_term: int(),
        leader: { type: ["string", "null"] },
        commit_index: int(),
        members: { type: "array", items: obj({ id: str(), address: { type: ["string", "null"] }, role: str() }) },
      }, ["node", "state", "current_term", "leader", "commit_index", "members"]),
    },
  },
} as const;
