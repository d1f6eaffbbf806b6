// RedisStore against a real, throwaway redis-server: values round-trip byte-exactly and stay
// readable with redis-cli, the epoch fence refuses every call from another epoch without side
// effects, and an outage fails calls fast with UNAVAILABLE and heals without a new store.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connect } from "node:net";
import { RedisStore, VALUE_MARKER } from "../../src/cache/redis-store.ts";
import { isStaleEpoch } from "../../src/cache/store.ts";
import { SinkronError } from "../../src/protocol/errors.ts";
import { silentLogger, type Logger } from "../../src/util/log.ts";
import { freePortRange } from "../helpers/ports.ts";
import { startRedis, type RedisServer } from "../helpers/redis.ts";

const REDIS_CLI_PATH = "/usr/bin/redis-cli";
const TEST_TIMEOUT_MS = 10_000;

let redis: RedisServer;
const stores: RedisStore[] = [];
const warnings: string[] = [];
const recordingLogger: Logger = { ...silentLogger, warn: (message) => warnings.push(message), child: () => recordingLogger };

beforeAll(async () => {
  redis = await startRedis();
});

afterAll(async () => {
  for (const store of stores) await store.close();
  await redis?.stop();
});

/** A connected store whose epoch is `epoch` (null: leave the epoch key alone). */
async function openStore(prefix: string, epoch: number | null = 1, log: Logger = silentLogger): Promise<RedisStore> {
  const store = new RedisStore({ url: redis.url, prefix, log });
  stores.push(store);
  await store.connect();
  if (epoch !== null) await store.advanceEpoch(epoch);
  return store;
}

function cli(...args: string[]): string {
  const result = Bun.spawnSync([REDIS_CLI_PATH, "-p", String(redis.port), ...args], { stdin: "ignore" });
  return result.stdout.toString().replace(/\n$/, "");
}

/** Stores raw bytes under `key` as another program would (redis-cli -x reads the value from stdin). */
function cliSetBytes(key: string, bytes: Uint8Array): void {
  const result = Bun.spawnSync([REDIS_CLI_PATH, "-p", String(redis.port), "-x", "SET", key], { stdin: bytes });
  expect(result.stdout.toString().trim()).toBe("OK");
}

/** Makes redis busy for `seconds`; resolves once it is hung, with a promise of its recovery. */
async function hangRedis(seconds: number): Promise<{ recovered: Promise<void> }> {
  const socket = connect({ host: "127.0.0.1", port: redis.port });
  const recovered = new Promise<void>((resolve) => socket.once("data", () => resolve(void socket.destroy())));
  await new Promise<void>((resolve) => socket.write(`DEBUG SLEEP ${seconds}\r\n`, () => resolve()));
  await Bun.sleep(50); // the command is in redis's socket buffer; give it a moment to start sleeping
  return { recovered };
}

async function rejection(promise: Promise<unknown>): Promise<SinkronError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SinkronError);
  return error as SinkronError;
}

test(
  "values of every MessagePack kind round-trip",
  async () => {
    const store = await openStore("");
    const values: unknown[] = ["plain", "", "ünïcødé ✓", "\uFEFFbom", 0, -7, 3.25, 2 ** 40, true, false, null, [1, "two", [3]], { a: 1, b: { c: [true] } }];
    for (const [i, value] of values.entries()) {
      await store.write(`kind:${i}`, value, 1);
      expect(await store.read(`kind:${i}`, 1)).toEqual({ found: true, value });
    }
    // A Map is written as a MessagePack map and comes back as a plain object, as over the wire.
    await store.write("kind:map", new Map<string, unknown>([["x", 1], ["y", [2]]]), 1);
    expect(await store.read("kind:map", 1)).toEqual({ found: true, value: { x: 1, y: [2] } });
    expect(await store.read("kind:absent", 1)).toEqual({ found: false });
  },
  TEST_TIMEOUT_MS,
);

test(
  "bytes round-trip exactly, including invalid UTF-8 and a leading 0xC1",
  async () => {
    const store = await openStore("");
    const cases = [new Uint8Array([]), new Uint8Array([0xff, 0xfe, 0x00, 0x80]), new Uint8Array([VALUE_MARKER, 0x01, 0xc1]), new Uint8Array(256).map((_, i) => i)];
    for (const [i, bytes] of cases.entries()) {
      await store.write(`bytes:${i}`, bytes, 1);
      const read = await store.read(`bytes:${i}`, 1);
      expect(read.found).toBe(true);
      const value = read.found ? read.value : null;
      expect(value).toBeInstanceOf(Uint8Array);
      expect(new Uint8Array(value as Uint8Array)).toEqual(bytes);
    }
  },
  TEST_TIMEOUT_MS,
);

test(
  "strings are plain in redis; values other programs wrote are read back",
  async () => {
    const store = await openStore("");
    await store.write("greeting", "hello, wörld", 1);
    expect(cli("GET", "greeting")).toBe("hello, wörld");
    await store.write("count", 42, 1);
    expect(cli("STRLEN", "count")).toBe("2"); // 0xC1 + positive fixint

    cli("SET", "from-cli", "written by redis-cli");
    expect(await store.read("from-cli", 1)).toEqual({ found: true, value: "written by redis-cli" });
    cliSetBytes("from-cli:binary", new Uint8Array([0x80, 0xff, 0x41]));
    const read = await store.read("from-cli:binary", 1);
    expect(read.found && new Uint8Array(read.value as Uint8Array)).toEqual(new Uint8Array([0x80, 0xff, 0x41]));
    // 0xC1 claims MessagePack follows; garbage after it is a corrupt value, not a string.
    cliSetBytes("from-cli:corrupt", new Uint8Array([VALUE_MARKER, 0xc1]));
    expect((await rejection(store.read("from-cli:corrupt", 1))).code).toBe("INTERNAL");
  },
  TEST_TIMEOUT_MS,
);

test(
  "a prefix puts every key, the epoch's too, under it",
  async () => {
    const store = await openStore("app1:", 9);
    await store.write("k", "v", 9);
    expect(cli("GET", "app1:k")).toBe("v");
    expect(cli("GET", "app1:sinkron:cache-epoch")).toBe("9");
    expect(cli("EXISTS", "k")).toBe("0");
  },
  TEST_TIMEOUT_MS,
);

test(
  "delete says whether the key existed",
  async () => {
    const store = await openStore("");
    await store.write("doomed", [1], 1);
    expect(await store.delete("doomed", 1)).toBe(true);
    expect(await store.delete("doomed", 1)).toBe(false);
    expect(await store.read("doomed", 1)).toEqual({ found: false });
  },
  TEST_TIMEOUT_MS,
);

test(
  "the epoch fence refuses older and newer epochs and changes nothing",
  async () => {
    const store = await openStore("fence:", 5);
    await store.write("k", "at five", 5);
    for (const epoch of [4, 6]) {
      const calls = [store.read("k", epoch), store.write("k", "intruder", epoch), store.write("new", "intruder", epoch), store.delete("k", epoch)];
      for (const call of calls) {
        const error = await rejection(call);
        expect(error.code).toBe("UNAVAILABLE");
        expect(isStaleEpoch(error)).toBe(true);
        expect(error.details).toMatchObject({ staleEpoch: true, epoch, storeEpoch: 5 });
      }
    }
    expect(await store.read("k", 5)).toEqual({ found: true, value: "at five" });
    expect(await store.read("new", 5)).toEqual({ found: false });

    await store.advanceEpoch(3); // never lowers it
    expect(cli("GET", "fence:sinkron:cache-epoch")).toBe("5");
    await store.advanceEpoch(7);
    expect(cli("GET", "fence:sinkron:cache-epoch")).toBe("7");
    expect(isStaleEpoch(await rejection(store.read("k", 5)))).toBe(true);
    expect(await store.read("k", 7)).toEqual({ found: true, value: "at five" });
  },
  TEST_TIMEOUT_MS,
);

test(
  "a store with no epoch yet refuses every call until advanceEpoch",
  async () => {
    const store = await openStore("fresh:", null);
    for (const epoch of [0, 1]) {
      for (const call of [store.read("k", epoch), store.write("k", "v", epoch), store.delete("k", epoch)]) {
        const error = await rejection(call);
        expect(error.details).toMatchObject({ staleEpoch: true, epoch, storeEpoch: null });
      }
    }
    expect(cli("EXISTS", "fresh:k")).toBe("0");
    await store.advanceEpoch(0);
    await store.write("k", "v", 0);
    expect(await store.read("k", 0)).toEqual({ found: true, value: "v" });
  },
  TEST_TIMEOUT_MS,
);

test(
  "a hung redis fails calls after commandTimeoutMs",
  async () => {
    const store = await openStore("");
    const hung = await hangRedis(1.5);
    const startedMs = performance.now();
    const error = await rejection(store.read("k", 1));
    const elapsedMs = performance.now() - startedMs;
    expect(error.code).toBe("UNAVAILABLE");
    expect(error.details.store).toBe("redis");
    expect(elapsedMs).toBeGreaterThanOrEqual(900);
    expect(elapsedMs).toBeLessThan(2_000);
    await hung.recovered;
    // The late reply to the timed-out command must not be taken for the next one's.
    await store.write("after-sleep", "fresh", 1);
    expect(await store.read("after-sleep", 1)).toEqual({ found: true, value: "fresh" });
  },
  TEST_TIMEOUT_MS,
);

test(
  "an outage fails calls fast with UNAVAILABLE and the same store works after redis restarts",
  async () => {
    warnings.length = 0;
    const store = await openStore("outage:", 1, recordingLogger);
    await store.write("k", "before", 1);
    await redis.kill();
    for (let round = 0; round < 3; round++) {
      for (const call of [() => store.read("k", 1), () => store.write("k", "during", 1), () => store.advanceEpoch(2)]) {
        const startedMs = performance.now();
        const error = await rejection(call());
        expect(performance.now() - startedMs).toBeLessThan(3_000);
        expect(error.code).toBe("UNAVAILABLE");
        expect(error.details.store).toBe("redis");
        expect(isStaleEpoch(error)).toBe(false);
      }
      await Bun.sleep(300); // let a few reconnect attempts fail meanwhile
    }
    expect(warnings).toEqual(["redis is unreachable; cache calls fail UNAVAILABLE until it is back"]);

    await redis.restart(); // an empty redis: no data, no epoch, no cached scripts
    const deadlineMs = performance.now() + 5_000;
    for (;;) {
      try {
        await store.advanceEpoch(1);
        break;
      } catch (error) {
        expect((error as SinkronError).code).toBe("UNAVAILABLE");
        if (performance.now() > deadlineMs) throw error;
        await Bun.sleep(50);
      }
    }
    expect(await store.read("k", 1)).toEqual({ found: false });
    await store.write("k", "after", 1);
    expect(await store.read("k", 1)).toEqual({ found: true, value: "after" });
    expect(warnings).toHaveLength(1);
  },
  TEST_TIMEOUT_MS,
);

test(
  "connect() to a redis that is not there rejects UNAVAILABLE within connectTimeoutMs",
  async () => {
    const store = new RedisStore({ url: `redis://127.0.0.1:${freePortRange(1)}`, log: silentLogger, connectTimeoutMs: 300 });
    const startedMs = performance.now();
    expect((await rejection(store.connect())).code).toBe("UNAVAILABLE");
    expect(performance.now() - startedMs).toBeLessThan(1_000);
    expect((await rejection(store.read("k", 1))).code).toBe("UNAVAILABLE");
    await store.close();
  },
  TEST_TIMEOUT_MS,
);

test(
  "close() is idempotent and later calls fail UNAVAILABLE",
  async () => {
    const store = new RedisStore({ url: redis.url, log: silentLogger });
    expect((await rejection(store.read("k", 1))).code).toBe("UNAVAILABLE"); // before connect()
    await store.connect();
    await store.close();
    await store.close();
    expect((await rejection(store.write("k", "v", 1))).code).toBe("UNAVAILABLE");
    expect((await rejection(store.connect())).code).toBe("UNAVAILABLE");
  },
  TEST_TIMEOUT_MS,
);
