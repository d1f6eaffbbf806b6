// `sinkron node` configuration: flags, their SINKRON_* environment twins, precedence, and
// a clear error for every bad value. The README must document every option.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { NODE_OPTIONS, parseNodeConfig, parsePeers } from "../../src/cli/node-config.ts";
import { CLUSTER_OPTIONS } from "../../src/cli/cluster-command.ts";
import { UsageError, durationMs, sizeBytes } from "../../src/cli/options.ts";

const PEERS = "n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003";

test("flags give a full config", () => {
  const config = parseNodeConfig(["--id", "n2", "--listen", "127.0.0.1:7002", "--peers", PEERS, "--data", "/tmp/d", "--token", "t", "--inflight-requests-max=64", "--frame-bytes-max", "1MiB"], {});
  expect(config).toMatchObject({
    id: "n2",
    listen: { host: "127.0.0.1", port: 7002 },
    dataDir: "/tmp/d",
    token: "t",
    http: null,
    redisUrl: null,
    limits: { inflightRequestsMax: 64, frameBytesMax: 1024 * 1024 },
  });
  expect(config.peers.map((p) => p.id)).toEqual(["n1", "n2", "n3"]);
});

test("every option can come from its environment variable, and a flag wins over it", () => {
  const env = { SINKRON_ID: "n1", SINKRON_LISTEN: "0.0.0.0:7001", SINKRON_PEERS: PEERS, SINKRON_DATA: "/data", SINKRON_HTTP: "0.0.0.0:8001", SINKRON_REDIS: "redis://r:6379", SINKRON_PARTIAL_FRAME_TIMEOUT: "5s" };
  const config = parseNodeConfig([], env);
  expect(config).toMatchObject({ id: "n1", dataDir: "/data", http: { host: "0.0.0.0", port: 8001 }, redisUrl: "redis://r:6379", limits: { partialFrameTimeoutMs: 5000 } });
  expect(parseNodeConfig(["--data", "/other"], env).dataDir).toBe("/other");
});

test("bad configuration is refused with a message naming the option", () => {
  const base = ["--listen", "127.0.0.1:7001", "--peers", PEERS];
  const cases: [string[], RegExp][] = [
    [["--listen", "127.0.0.1:7001"], /--id is required/],
    [["--id", "n1"], /--listen is required/],
    [["--id", "n9", ...base], /--id n9 is not one of --peers/],
    [["--id", "n1", "--listen", "localhost"], /--listen: expected host:port/],
    [["--id", "n1", "--listen", "h:70000"], /port out of range/],
    [["--id", "n1", ...base, "--nope", "1"], /unknown option --nope/],
    [["--id", "n1", ...base, "--inflight-requests-max", "0"], /--inflight-requests-max: expected an integer/],
    [["--id", "n1", ...base, "--frame-bytes-max", "12 parsecs"], /--frame-bytes-max: expected a size/],
    [["--id", "n1", ...base, "--frame-bytes-max", "8GiB"], /--frame-bytes-max must be between/],
    [["--id", "n1", ...base, "--log-level", "loud"], /--log-level: expected debug, info, warn or error/],
    [["--id", "n1", "--listen", "127.0.0.1:7001", "--peers", "n1=a:1,n1=b:2"], /listed twice/],
    [["--id", "n1", "--listen", "127.0.0.1:7001", "--peers", "bad id=a:1"], /bad node id/],
    [["--id", "n1", ...base, "stray"], /unexpected argument 'stray'/],
    [["--id", "n1", ...base, "--data"], /--data needs a value/],
  ];
  for (const [argv, message] of cases) {
    expect(() => parseNodeConfig(argv, {})).toThrow(UsageError);
    expect(() => parseNodeConfig(argv, {})).toThrow(message);
  }
  expect(() => parseNodeConfig([], { SINKRON_ID: "n1", SINKRON_LISTEN: "x" })).toThrow(/SINKRON_LISTEN: expected host:port/);
});

test("peers, sizes and durations parse as documented", () => {
  expect(parsePeers("a=[::1]:7001, b=host:2")).toEqual([{ id: "a", address: "[::1]:7001" }, { id: "b", address: "host:2" }]);
  expect(sizeBytes("512KiB")).toBe(512 * 1024);
  expect(sizeBytes("3")).toBe(3);
  expect(durationMs("2m")).toBe(120_000);
  expect(durationMs("1.5s")).toBe(1500);
  expect(durationMs("250")).toBe(250);
});

test("the README documents every option and environment variable", () => {
  const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
  for (const spec of [...Object.values(NODE_OPTIONS), ...Object.values(CLUSTER_OPTIONS)]) {
    expect(readme).toContain(`--${spec.flag}`);
    if (spec.env) expect(readme).toContain(spec.env);
  }
});
