// The original report's three Locust scenarios against the HTTP API (src/http), each user a
// closed loop of keep-alive `fetch` calls with no wait time, as a Locust user with
// `wait_time = constant(0)`: lock (ACQUIRE_EXCLUSIVE on one of resource-A/B/C, then RELEASE),
// queue (produce, long-poll consume, ack) and cache (write on node i, read back on node i+1).
// Like cache-scenario.ts this is a driver of its own, on the runner's phases, tally and
// measurements, so the report is the runner's; http-bench.ts runs the scenarios and prints
// them next to the original's table.
import type { HttpScenarioName } from "./args.ts";
import { drivePhases } from "./phases.ts";
import { RoundRun, StaleReadTally } from "./round-run.ts";
import { type RunHooks, type RunMeasurements } from "./runner.ts";
import { isMap } from "./answers.ts";

/** A call's deadline: past the longest wait a request asks the node for (5 s), so the node's own answer comes first. */
export const HTTP_CALL_TIMEOUT_MS = 10_000;
/** The lock scenario's resources and waits, as in the original locustfile. */
export const LOCK_RESOURCES = ["resource-A", "resource-B", "resource-C"] as const;
export const LOCK_TIMEOUT_MS = 5_000;
export const LOCK_TTL_MS = 10_000;
export const CONSUME_WAIT_MS = 5_000;
/** The failure codes of this driver besides `HTTP_<status>`: a 204 consume, a read that missed its write, no answer, no connection. */
export const EMPTY_CODE = "EMPTY";
export const STALE_CODE = "STALE";
export const NO_ANSWER_CODE = "NO_ANSWER";
export const CONNECTION_FAILED_CODE = "CONNECTION_FAILED";

/** The endpoints as Locust names them in its table; the report's "by command" lines. */
export const ENDPOINTS = {
  acquire: "POST /lock ACQUIRE",
  release: "POST /lock RELEASE",
  produce: "POST /produce",
  consume: "GET /consume",
  ack: "POST /ack",
  write: "POST /write",
  read: "GET /read/{key}",
} as const;

/** What a user completes, counted as the OK answers of one endpoint (the report's unit line). */
export const SCENARIO_UNITS: Record<HttpScenarioName, { name: string; command: string }> = {
  lock: { name: "pairs", command: ENDPOINTS.release },
  queue: { name: "rounds", command: ENDPOINTS.ack },
  cache: { name: "rounds", command: ENDPOINTS.read },
};

export interface HttpScenarioConfig {
  scenario: HttpScenarioName;
  users: number;
  durationMs: number;
  warmupMs: number;
  bases: readonly string[];
  token: string | null;
}

/** Stale reads of the cache scenario. */
export class HttpScenarioTally extends StaleReadTally {}

type Outcome = { code: string; message: string | null; value?: unknown };
/** Looks at an answer's status and parsed body: an outcome other than the default, or null. */
type Check = (status: number, value: unknown) => Outcome | null;

class HttpRun extends RoundRun {
  constructor(private readonly headers: Record<string, string>) {
    super(null, 1);
  }

  /**
   * One HTTP request (deadline HTTP_CALL_TIMEOUT_MS); its outcome (`value`: the parsed JSON body
   * of a 2xx), or null once the run is over. Any non-2xx is a failure `HTTP_<status>`, as Locust
   * counts it, unless `refused` names it otherwise; `check` may refuse a 2xx (null: OK).
   */
  call(endpoint: string, method: "GET" | "POST", url: string, body: unknown, isMeasured: boolean, check: Check = () => null, refused: Check = () => null): Promise<Outcome | null> {
    return this.measure(endpoint, isMeasured, () => this.fetchOutcome(method, url, body, check, refused));
  }

  private async fetchOutcome(method: string, url: string, body: unknown, check: Check, refused: Check): Promise<Outcome> {
    const init: RequestInit = { method, headers: this.headers, signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(HTTP_CALL_TIMEOUT_MS)]) };
    if (body !== undefined) init.body = JSON.stringify(body);
    try {
      const response = await fetch(url, init);
      const text = await response.text();
      let value: unknown = null;
      try {
        value = text === "" ? null : JSON.parse(text);
      } catch {
        value = text;
      }
      if (response.status < 200 || response.status > 299) return refused(response.status, value) ?? { code: `HTTP_${response.status}`, message: `${method} ${url}: ${response.status} ${preview(value)}` };
      return check(response.status, value) ?? { code: "OK", message: null, value };
    } catch (error) {
      const name = (error as Error).name;
      if (name === "TimeoutError") return { code: NO_ANSWER_CODE, message: `${method} ${url}: no answer within ${HTTP_CALL_TIMEOUT_MS} ms` };
      return { code: CONNECTION_FAILED_CODE, message: `${method} ${url}: ${(error as Error).message}` };
    }
  }
}

/** A user's round (`n` counts its rounds); `isMeasured` is the phase it started in. */
type Round = (isMeasured: boolean, n: number) => Promise<void>;
/** The rounds of user `u`: user `u` gets node `u mod n` (cache: it writes there first, then moves on). */
type RoundsOf = (run: HttpRun, u: number) => Round;

const ROUNDS: Record<HttpScenarioName, (bases: readonly string[], runTag: string, tally: HttpScenarioTally) => RoundsOf> = {
  lock: (bases) => (run, u) => lockRound(run, bases[u % bases.length]!, `user-${u}`),
  queue: (bases, runTag) => (run, u) => queueRound(run, bases[u % bases.length]!, `${runTag}:user-${u}`),
  cache: (bases, runTag, tally) => (run, u) => cacheRound(run, u, bases, runTag, tally),
};

/** Runs one scenario with `config.users` users over `config.bases`; resolves with the runner's measurements. */
export async function driveHttpScenario(config: HttpScenarioConfig, hooks: RunHooks, tally: HttpScenarioTally): Promise<RunMeasurements> {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (config.token !== null) headers.authorization = `Bearer ${config.token}`;
  const run = new HttpRun(headers);
  // A tag of this run in every message and value: a value left by an earlier run is stale too.
  const runTag = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
  const roundsOf = ROUNDS[config.scenario](config.bases, runTag, tally);
  await drivePhases(run, { durationMs: config.durationMs, warmupMs: config.warmupMs }, hooks, () => {
    for (let u = 0; u < config.users; u++) void userLoop(run, roundsOf(run, u));
  });
  return run.measurements();
}

/** Rounds until the run stops them; a started round's steps all go out, in the drain too (a lock is released). */
async function userLoop(run: HttpRun, round: Round): Promise<void> {
  for (let n = 0; ; n++) {
    const isMeasured = run.startRound();
    if (isMeasured === null) return;
    try {
      await round(isMeasured, n);
    } finally {
      run.endRound();
    }
  }
}

/** ACQUIRE_EXCLUSIVE of resource-A, -B or -C at random (waiting up to 5 s, 408 past it), then RELEASE of a granted lock. */
function lockRound(run: HttpRun, base: string, clientId: string): Round {
  return async (isMeasured) => {
    const lockName = LOCK_RESOURCES[Math.floor(Math.random() * LOCK_RESOURCES.length)]!;
    const acquired = await run.call(ENDPOINTS.acquire, "POST", `${base}/lock`, { action: "ACQUIRE_EXCLUSIVE", lock_name: lockName, client_id: clientId, timeout_ms: LOCK_TIMEOUT_MS, ttl_ms: LOCK_TTL_MS }, isMeasured);
    if (acquired?.code !== "OK") return;
    await run.call(ENDPOINTS.release, "POST", `${base}/lock`, { action: "RELEASE", lock_name: lockName, client_id: clientId }, isMeasured);
  };
}

/** POST /produce, GET /consume (long poll; 204 is EMPTY), POST /ack of the message it got (any user's). */
function queueRound(run: HttpRun, base: string, tag: string): Round {
  return async (isMeasured, n) => {
    const produced = await run.call(ENDPOINTS.produce, "POST", `${base}/produce`, { message: `${tag}:${n}` }, isMeasured, (_, value) => (isMap(value) && typeof value.msg_id === "string" ? null : unexpected(ENDPOINTS.produce, value)));
    if (produced?.code !== "OK") return;
    const consumed = await run.call(ENDPOINTS.consume, "GET", `${base}/consume?wait_ms=${CONSUME_WAIT_MS}`, undefined, isMeasured, (status, value) => {
      if (status === 204) return { code: EMPTY_CODE, message: `no message within ${CONSUME_WAIT_MS} ms although this user just produced one` };
      return isMap(value) && typeof value.msg_id === "string" ? null : unexpected(ENDPOINTS.consume, value);
    });
    if (consumed?.code !== "OK" || !isMap(consumed.value)) return;
    await run.call(ENDPOINTS.ack, "POST", `${base}/ack`, { msg_id: consumed.value.msg_id }, isMeasured);
  };
}

/** POST /write of `user-<u>-<n>` on node i, then GET /read of it on node i+1 (i = u + n): anything but the value just written is STALE. */
function cacheRound(run: HttpRun, u: number, bases: readonly string[], runTag: string, tally: HttpScenarioTally): Round {
  return async (isMeasured, n) => {
    const i = (u + n) % bases.length;
    const j = (i + 1) % bases.length;
    const key = `user-${u}-${n}`;
    const value = `${runTag}:${u}:${n}`;
    const wrote = await run.call(ENDPOINTS.write, "POST", `${bases[i]}/write`, { key, value }, isMeasured);
    if (wrote?.code !== "OK") return;
    const where = `read on ${bases[j]} after the write on ${bases[i]}`;
    const stale = (got: string): Outcome => {
      const message = `${key}: ${got}, expected ${JSON.stringify(value)} (${where})`;
      tally.noteStale(message);
      return { code: STALE_CODE, message };
    };
    const read = await run.call(
      ENDPOINTS.read,
      "GET",
      `${bases[j]}/read/${encodeURIComponent(key)}`,
      undefined,
      isMeasured,
      (_, answer) => (isMap(answer) && answer.value === value ? null : stale(`got ${preview(isMap(answer) ? answer.value : answer)}`)),
      // The write was acknowledged: the key must be there.
      (status) => (status === 404 ? stale("404 NOT_FOUND") : null),
    );
    if (read !== null) tally.reads++;
  };
}

function unexpected(endpoint: string, answer: unknown): Outcome {
  return { code: "UNEXPECTED_VALUE", message: `unexpected answer to ${endpoint}: ${preview(answer)}` };
}

function preview(value: unknown): string {
  const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
