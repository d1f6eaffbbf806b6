// The cache's backing store in Redis (`--redis URL`), through node-redis. Three guarantees:
//
// Fence. The store's epoch is the key `prefix + "sinkron:cache-epoch"` (a decimal string).
// read, write and delete are each ONE Lua script that compares it with the caller's epoch and
// refuses on any difference, so the check and the access are atomic in Redis (Kleppmann 2016,
// "fencing tokens"). A store with no epoch key refuses everything: a caller must advanceEpoch()
// before its first call. advanceEpoch only ever raises the epoch. (The scripts touch two keys,
// so Redis Cluster, which needs them in one hash slot, is not supported.)
//
// Values. A cache key `k` lives under `prefix + k`. A string is stored as its plain UTF-8, so
// `redis-cli GET k` shows it; any other value as the byte 0xC1 followed by its MessagePack.
// 0xC1 is never used by MessagePack and never starts valid UTF-8, so no string we store starts
// with it. Reading: 0xC1… is MessagePack; else valid UTF-8 is a string; else (bytes another
// program wrote) a Uint8Array. Replies are read as Buffers so bytes round-trip exactly.
//
// Outages. Nothing waits for Redis: the offline queue is off (a call while disconnected fails
// at once), every command has a timeout, and the client reconnects in the background with a
// capped backoff. Every failure is a SinkronError UNAVAILABLE {store: "redis"}; the client's
// 'error' events are logged once per outage, never left unhandled.
import { createHash } from "node:crypto";
import { createClient, ErrorReply, RESP_TYPES, type RedisClientType } from "redis";
import { SinkronError } from "../protocol/errors.ts";
import { decodeValue, encodeValue } from "../protocol/msgpack.ts";
import type { Logger } from "../util/log.ts";
import { staleEpochError, type BackingStore, type StoreRead } from "./store.ts";

export interface RedisStoreOptions {
  /** `redis://[user:password@]host:port[/db]`. */
  url: string;
  /** Put before every key, the epoch key included, so several deployments can share one Redis. */
  prefix?: string;
  log: Logger;
  /** The longest one call waits for Redis's answer before failing UNAVAILABLE. */
  commandTimeoutMs?: number;
  /** The longest one TCP connect attempt, and connect(), wait. */
  connectTimeoutMs?: number;
}

export const EPOCH_KEY = "sinkron:cache-epoch";
/** The first byte of a stored non-string value (see the header). */
export const VALUE_MARKER = 0xc1;
const COMMAND_TIMEOUT_MS_DEFAULT = 1_000;
const CONNECT_TIMEOUT_MS_DEFAULT = 1_000;
const RECONNECT_DELAY_MS_MIN = 50;
const RECONNECT_DELAY_MS_MAX = 1_000;
/** Commands queued or awaiting an answer; beyond this a call fails UNAVAILABLE instead of piling up. */
const PENDING_COMMANDS_MAX = 10_000;
const BUFFER_REPLIES = { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } };

type Script = { source: string; sha: string };
function script(source: string): Script {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

// KEYS[1] = epoch key, ARGV[1] = the caller's epoch. A refusal is {-1, store epoch or ''}.
const FENCE = "local e = redis.call('GET', KEYS[1]) if e ~= ARGV[1] then return {-1, e or ''} end ";
const READ = script(FENCE + "local v = redis.call('GET', KEYS[2]) if v then return {1, v} end return {0}");
const WRITE = script(FENCE + "redis.call('SET', KEYS[2], ARGV[2]) return {1}");
const DELETE = script(FENCE + "return {1, redis.call('DEL', KEYS[2])}");
const ADVANCE = script(
  "local e = tonumber(redis.call('GET', KEYS[1])) " +
    "if e == nil or e < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end return 1",
);

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function encodeStoredValue(value: unknown): string | Uint8Array {
  if (typeof value === "string") return value;
  const packed = encodeValue(value);
  const bytes = new Uint8Array(1 + packed.length);
  bytes[0] = VALUE_MARKER;
  bytes.set(packed, 1);
  return bytes;
}

/** Throws (a plain Error) when bytes after the marker are not exactly one MessagePack value. */
export function decodeStoredValue(bytes: Uint8Array): unknown {
  if (bytes[0] === VALUE_MARKER) {
    // msgpackr reads a lone 0xC1 as a placeholder object instead of refusing it.
    if (bytes[1] === VALUE_MARKER) throw new Error("0xC1 is not a MessagePack value");
    return decodeValue(bytes.subarray(1));
  }
  try {
    return utf8.decode(bytes);
  } catch {
    return new Uint8Array(bytes);
  }
}

export class RedisStore implements BackingStore {
  readonly kind = "redis";
  private readonly client: RedisClientType<{}, {}, {}, 2>;
  private readonly prefix: string;
  private readonly log: Logger;
  private readonly commandTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private connecting: Promise<void> | null = null;
  private isDown = false;
  private isClosed = false;

  /** Does no I/O; call connect() next. */
  constructor(options: RedisStoreOptions) {
    this.prefix = options.prefix ?? "";
    this.log = options.log;
    this.commandTimeoutMs = options.commandTimeoutMs ?? COMMAND_TIMEOUT_MS_DEFAULT;
    this.connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT;
    this.client = createClient({
      url: options.url,
      // RESP2: the scripts need nothing newer, and any Redis since 2.6 (or look-alike) speaks it.
      RESP: 2,
      disableOfflineQueue: true,
      commandsQueueMaxLength: PENDING_COMMANDS_MAX,
      socket: {
        connectTimeout: this.connectTimeoutMs,
        reconnectStrategy: (retries) => Math.min(RECONNECT_DELAY_MS_MIN * 2 ** retries, RECONNECT_DELAY_MS_MAX),
      },
    });
    this.client.on("error", (error: unknown) => this.onClientError(error));
    this.client.on("ready", () => {
      if (this.isDown) this.log.info("redis is reachable again");
      this.isDown = false;
    });
  }

  /**
   * Starts connecting; from then on the client reconnects by itself whenever the connection
   * drops. Resolves once Redis answers, or rejects UNAVAILABLE after connectTimeoutMs while
   * the attempts go on: the caller may carry on (calls fail UNAVAILABLE until Redis is up) or
   * close() the store. Calls made before connect() fail UNAVAILABLE.
   */
  async connect(): Promise<void> {
    if (this.isClosed) throw unavailable("the redis store is closed");
    // The promise settles only when ready or destroyed; close() is what ends a pending one.
    this.connecting ??= this.client.connect().then(
      () => undefined,
      () => undefined,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.connectTimeoutMs)));
    await Promise.race([this.connecting, timedOut]);
    clearTimeout(timer);
    if (!this.client.isReady) throw unavailable(`redis did not answer within ${this.connectTimeoutMs} ms`);
  }

  async read(key: string, epoch: number): Promise<StoreRead> {
    const reply = await this.fenced(READ, key, epoch, []);
    if (reply[0] === 0) return { found: false };
    try {
      return { found: true, value: decodeStoredValue(asBytes(reply[1])) };
    } catch (error) {
      throw new SinkronError("INTERNAL", `the value of '${key}' in redis is not valid MessagePack after its 0xC1 marker`, {
        store: "redis",
        key,
        cause: errorMessage(error),
      });
    }
  }

  async write(key: string, value: unknown, epoch: number): Promise<void> {
    let stored: string | Uint8Array;
    try {
      stored = encodeStoredValue(value);
    } catch (error) {
      throw new SinkronError("BAD_REQUEST", `the value for '${key}' cannot be encoded as MessagePack`, { key, cause: errorMessage(error) });
    }
    await this.fenced(WRITE, key, epoch, [typeof stored === "string" ? stored : Buffer.from(stored.buffer, stored.byteOffset, stored.length)]);
  }

  async delete(key: string, epoch: number): Promise<boolean> {
    const reply = await this.fenced(DELETE, key, epoch, []);
    return reply[1] === 1;
  }

  async advanceEpoch(epoch: number): Promise<void> {
    checkEpoch(epoch);
    await this.run(ADVANCE, [this.prefix + EPOCH_KEY], [String(epoch)]);
  }

  /** Drops the connection at once; calls still waiting fail UNAVAILABLE. Idempotent. */
  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      this.client.destroy();
    } catch (error) {
      this.log.warn("closing the redis client failed", { error: errorMessage(error) });
    }
  }

  /** Runs a fenced script on `key`: the reply, or a staleEpochError when the epochs differ. */
  private async fenced(s: Script, key: string, epoch: number, args: Array<string | Buffer>): Promise<unknown[]> {
    checkEpoch(epoch);
    const reply = await this.run(s, [this.prefix + EPOCH_KEY, this.prefix + key], [String(epoch), ...args]);
    if (reply[0] === -1) {
      const stored = asBytes(reply[1]).toString();
      const storeEpoch = stored === "" || !Number.isFinite(Number(stored)) ? null : Number(stored);
      throw staleEpochError(epoch, storeEpoch);
    }
    return reply;
  }

  private async run(s: Script, keys: string[], args: Array<string | Buffer>): Promise<unknown[]> {
    if (this.isClosed) throw unavailable("the redis store is closed");
    const tail = [String(keys.length), ...keys, ...args];
    const deadlineMs = performance.now() + this.commandTimeoutMs;
    let reply: unknown;
    try {
      try {
        reply = await this.send(["EVALSHA", s.sha, ...tail], this.commandTimeoutMs);
      } catch (error) {
        // Redis forgot its scripts (restart, SCRIPT FLUSH): EVAL runs the source and caches it again.
        if (!(error instanceof ErrorReply && error.message.startsWith("NOSCRIPT"))) throw error;
        reply = await this.send(["EVAL", s.source, ...tail], Math.max(1, deadlineMs - performance.now()));
      }
    } catch (error) {
      // An error reply (OOM, LOADING, WRONGTYPE…) is no answer to use either: the call failed.
      throw unavailable(error instanceof ErrorReply ? `redis refused the call (${error.message})` : `redis did not answer (${errorMessage(error)})`);
    }
    if (Array.isArray(reply) && typeof reply[0] === "number") return reply;
    if (typeof reply === "number") return [reply];
    throw new SinkronError("INTERNAL", "redis answered a cache script with an unexpected reply", { store: "redis" });
  }

  /**
   * One command, bounded by our own timer: node-redis's `timeout` option stops counting once
   * the command is written, so alone it would let a hung Redis hold a call forever. A reply
   * that comes after we gave up is still consumed in order by the client and dropped.
   */
  private send(args: Array<string | Buffer>, timeoutMs: number): Promise<unknown> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${Math.round(timeoutMs)} ms`)), timeoutMs);
    });
    return Promise.race([this.client.sendCommand(args, BUFFER_REPLIES), timedOut]).finally(() => clearTimeout(timer));
  }

  private onClientError(error: unknown): void {
    if (this.isClosed) return;
    if (this.isDown) return this.log.debug("redis still unreachable", { error: errorMessage(error) });
    this.isDown = true;
    this.log.warn("redis is unreachable; cache calls fail UNAVAILABLE until it is back", { error: errorMessage(error) });
  }
}

function checkEpoch(epoch: number): void {
  if (!Number.isSafeInteger(epoch) || epoch < 0) {
    throw new SinkronError("INTERNAL", `a cache epoch must be a non-negative integer, not ${epoch}`, { store: "redis" });
  }
}

function unavailable(message: string): SinkronError {
  return new SinkronError("UNAVAILABLE", message, { store: "redis" });
}

function asBytes(value: unknown): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(String(value ?? ""));
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
}
