// The bench's flags: defaults, units, bounds and the mistakes a person makes typing them.
import { describe, expect, test } from "bun:test";
import { BenchUsageError, DURATION_MS_DEFAULT, parseBenchArgs, parseDurationMs, WARMUP_MS_DEFAULT } from "../../bench/args.ts";
import { commandLineOf } from "../../bench/cli.ts";
import { RequestEncoder } from "../../bench/request-encoder.ts";
import { decodeValue } from "../../src/protocol/msgpack.ts";
import { REQUEST_ID_MAX } from "../../src/protocol/envelope.ts";

describe("parseBenchArgs", () => {
  test("defaults", () => {
    expect(parseBenchArgs(["ping", "--target", "127.0.0.1:7001"])).toEqual({
      workload: "ping",
      target: { host: "127.0.0.1", port: 7001 },
      connections: 1,
      pipelineDepth: 1,
      durationMs: DURATION_MS_DEFAULT,
      requestsTotal: null,
      warmupMs: WARMUP_MS_DEFAULT,
      jsonPath: null,
      token: null,
      showProgress: true,
      keys: 1000,
      valueBytes: 100,
      queue: "bench",
      batch: 1,
      messages: 100_000,
    });
  });

  test("every flag, in both --flag value and --flag=value forms", () => {
    const options = parseBenchArgs(["ping", "--target=localhost:1", "--connections", "50", "--pipeline=64", "--requests", "1_000_000", "--warmup", "0", "--json", "o.json", "--token", "t", "--quiet"]);
    expect(options).toMatchObject({ connections: 50, pipelineDepth: 64, requestsTotal: 1_000_000, durationMs: null, warmupMs: 0, jsonPath: "o.json", token: "t", showProgress: false });
  });

  test.each([
    [["--target", "h:1", "--duration", "1s", "--requests", "5"], "not both"],
    [["--pipeline", "8"], "--target"],
    [["--target", "nohost"], "host:port"],
    [["--target", "h:1", "--pipeline", "0"], "--pipeline"],
    [["--target", "h:1", "--pipeline", "65537"], "--pipeline"],
    [["--target", "h:1", "--connections", "1.5"], "--connections"],
    [["--target", "h:1", "--duration", "10 parsecs"], "--duration"],
    [["--target", "h:1", "--duration", "0s"], "--duration"],
    [["--target", "h:1", "--bogus", "1"], "unknown option"],
    [["--target", "h:1", "--json"], "needs a value"],
    [["--target", "h:1", "--target", "h:2"], "twice"],
  ])("refuses %p", (flags, reason) => {
    expect(() => parseBenchArgs(["ping", ...flags])).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(["ping", ...flags])).toThrow(reason);
  });

  test("durations", () => {
    expect(parseDurationMs("500ms")).toBe(500);
    expect(parseDurationMs("10s")).toBe(10_000);
    expect(parseDurationMs("1.5m")).toBe(90_000);
    expect(parseDurationMs("3")).toBe(3_000);
    expect(parseDurationMs("-1s")).toBeNull();
    expect(parseDurationMs("s")).toBeNull();
  });
});

test("the recorded command line hides the token", () => {
  expect(commandLineOf(["ping", "--token", "secret", "--target", "h:1"])).toBe("sinkron bench ping --token *** --target h:1");
  expect(commandLineOf(["ping", "--token=secret", "--json", "a b.json"])).toBe("sinkron bench ping --token=*** --json 'a b.json'");
});

test("the request encoder's bytes are plain MessagePack [id, command, args] for any id", () => {
  const encoder = new RequestEncoder();
  const request = ["LOCK.ACQUIRE", { name: "r", mode: "exclusive", owner: "me" }] as const;
  for (const id of [1, 127, 128, 65_536, REQUEST_ID_MAX]) {
    expect(decodeValue(encoder.encode(id, request))).toEqual([id, "LOCK.ACQUIRE", { name: "r", mode: "exclusive", owner: "me" }]);
  }
  expect(decodeValue(encoder.encode(7, ["PING", {}]))).toEqual([7, "PING", {}]);
});
