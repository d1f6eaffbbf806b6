// The cache workloads against a real 3-node cluster: cache-hit's GETs are hits, cache-mix sends
// its mix over every node without a wrong answer, the original report's scenario reads back
// every write on the next node — and, pointed at two unrelated nodes, its stale check fires.
// No speed is asserted (speed lives in the README's table, measured with this tool).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BenchUsageError, parseBenchArgs } from "../../bench/args.ts";
import { EXIT_FAILURES, EXIT_OK, runBench } from "../../bench/cli.ts";
import { ZipfSampler } from "../../bench/zipf.ts";
import { CACHE_HIT_CHECK_EVERY } from "../../bench/cache-workloads.ts";
import { seededRandom } from "../../src/util/prng.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { captureIo } from "./support.ts";

let cluster: TestCluster;
let dir: string;
beforeAll(async () => {
  cluster = await TestCluster.start(3);
  dir = mkdtempSync(join(tmpdir(), "sinkron-bench-cache-"));
});
afterAll(async () => {
  await cluster.stop();
  rmSync(dir, { recursive: true, force: true });
});

const quiet = ["--warmup", "0", "--quiet"];

/** Runs `sinkron bench …` with --json; the exit code, the printed report and the JSON. */
async function bench(argv: string[]): Promise<{ code: number; out: string; err: string; json: Record<string, any> }> {
  const jsonPath = join(dir, `${argv[0]}-${Math.random().toString(36).slice(2)}.json`);
  const io = captureIo();
  const code = await runBench([...argv, ...quiet, "--json", jsonPath], io);
  const out = io.out.join("");
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(readFileSync(jsonPath, "utf8"));
  } catch {
    // No report (setup failed): the assertions on `code` and `err` say why.
  }
  return { code, out, err: io.err.join(""), json };
}

describe("flags", () => {
  test("cache flags are absent unless given; workload defaults for keys and clients", () => {
    const hit = parseBenchArgs(["cache-hit", "--target", "h:1"]);
    expect(hit).toMatchObject({ keys: 100, connections: 1 });
    expect(hit.readRatio).toBeUndefined();
    expect(hit.isSpread).toBeUndefined();
    expect(parseBenchArgs(["cache-mix", "--target", "h:1"]).keys).toBe(10_000);
    expect(parseBenchArgs(["cache-scenario", "--target", "h:1"]).connections).toBe(10);
    expect(parseBenchArgs(["cache-scenario", "--target", "h:1", "--connections", "3"]).connections).toBe(3);
    expect(parseBenchArgs(["kv-get", "--target", "h:1"]).keys).toBe(1000);
    const mix = parseBenchArgs(["cache-mix", "--target", "h:1", "--read-ratio", "0.99", "--zipf", "0", "--spread", "--nodes", "a:1, b:2,c:3"]);
    expect(mix).toMatchObject({ readRatio: 0.99, zipfExponent: 0, isSpread: true, nodes: [{ host: "a", port: 1 }, { host: "b", port: 2 }, { host: "c", port: 3 }] });
  });

  test.each([
    [["--read-ratio", "1.5"], "--read-ratio"],
    [["--read-ratio", "90/10"], "--read-ratio"],
    [["--zipf", "-1"], "--zipf"],
    [["--nodes", "nohost"], "--nodes"],
    [["--nodes", ","], "--nodes"],
    [["--spread=yes"], "takes no value"],
  ])("refuses %p", (flags, reason) => {
    expect(() => parseBenchArgs(["cache-mix", "--target", "h:1", ...flags])).toThrow(BenchUsageError);
    expect(() => parseBenchArgs(["cache-mix", "--target", "h:1", ...flags])).toThrow(reason);
  });
});

describe("ZipfSampler", () => {
  test("rank k comes up ∝ 1/(k+1)^s; the draws follow it; s = 0 is uniform", () => {
    const zipf = new ZipfSampler(100, 0.99);
    expect(zipf.probability(0) / zipf.probability(9)).toBeCloseTo(Math.pow(10, 0.99), 6);
    let total = 0;
    for (let k = 0; k < 100; k++) total += zipf.probability(k);
    expect(total).toBeCloseTo(1, 12);
    const random = seededRandom(7);
    const counts = new Array<number>(100).fill(0);
    const draws = 200_000;
    for (let i = 0; i < draws; i++) counts[zipf.rank(random())]!++;
    for (const k of [0, 1, 9, 99]) expect(counts[k]! / draws).toBeCloseTo(zipf.probability(k), 2);
    const uniform = new ZipfSampler(4, 0);
    expect([0, 0.2499, 0.25, 0.74, 0.75, 0.9999999].map((u) => uniform.rank(u))).toEqual([0, 0, 1, 2, 3, 3]);
    expect(new ZipfSampler(1, 0.99).rank(0.5)).toBe(0);
    expect(() => new ZipfSampler(0, 1)).toThrow(RangeError);
  });
});

test("cache-hit: the setup writes and warms the keys, then every GET is a hit", async () => {
  const { code, out, err, json } = await bench(["cache-hit", "--target", cluster.address("n2"), "--keys", "20", "--pipeline", "16", "--requests", "3000"]);
  expect(err).toBe("");
  expect(code).toBe(EXIT_OK);
  expect(out).toMatch(/errors\s+none/);
  expect(out).toMatch(/cache\s+checked GETs answered from the serving node's cache: /);
  // One answer in CACHE_HIT_CHECK_EVERY is decoded and checked; the rest are counted by envelope.
  expect(json.cache.answers.cache + json.cache.answers.store).toBeGreaterThanOrEqual(Math.floor(3000 / CACHE_HIT_CHECK_EVERY));
  expect(json.requestsOk).toBe(3000);
  expect(json.throughputOpsPerSec).toBeGreaterThan(0);
  // A line is fetched again once a lease (2 s) ends: in a short run, (nearly) never.
  expect(json.cache.answers.hitRatio).toBeGreaterThan(0.95);
  expect(json.cache.nodes).toHaveLength(1);
  const node = json.cache.nodes[0];
  expect(node.node).toBe(cluster.address("n2"));
  expect(node.hits).toBeGreaterThanOrEqual(json.cache.answers.cache);
  expect(node.hitRatio).toBeGreaterThan(0.95);
  expect(node.entries).toBeGreaterThanOrEqual(20);
});

test("cache-mix: 90/10 over a Zipf key set, spread over every node, every answer right", async () => {
  const { code, out, err, json } = await bench(["cache-mix", "--target", cluster.address("n1"), "--keys", "200", "--read-ratio", "0.9", "--spread", "--connections", "3", "--pipeline", "8", "--requests", "1500"]);
  expect(err).toBe("");
  expect(code).toBe(EXIT_OK);
  expect(out).toMatch(/by command\s+CACHE\.(GET|SET) /);
  const gets = json.commands["CACHE.GET"].answered;
  const sets = json.commands["CACHE.SET"].answered;
  expect(gets + sets).toBe(1500);
  expect(gets / 1500).toBeGreaterThan(0.8);
  expect(gets / 1500).toBeLessThan(0.97);
  expect(json.cache.nodes.map((n: { node: string }) => n.node).sort()).toEqual(["n1", "n2", "n3"].map((id) => cluster.address(id)).sort());
  // Writes on one node invalidate the others' lines: some GETs go to the home.
  expect(json.cache.answers.store).toBeGreaterThan(0);
  expect(json.cache.nodes.reduce((sum: number, n: { writes: number }) => sum + n.writes, 0)).toBeGreaterThanOrEqual(sets);
});

test("cache-scenario: 10 clients write on node i and read back on node i+1, no stale read", async () => {
  const { code, out, err, json } = await bench(["cache-scenario", "--target", cluster.address("n3"), "--requests", "400"]);
  expect(err).toBe("");
  expect(code).toBe(EXIT_OK);
  expect(out).toMatch(/scenario\s+10 client loops over 3 nodes/);
  expect(out).toMatch(/× the original report's 176 requests\/s/);
  expect(out).toMatch(/stale reads 0 of [\d,]+ reads/);
  expect(json.errors).toEqual({});
  expect(json.requestsAnswered).toBe(400);
  expect(json.unit).toMatchObject({ name: "rounds", command: "CACHE.GET", count: 200 });
  expect(json.scenario).toMatchObject({ loops: 10, staleReads: 0, originalRequestsPerSec: 176 });
  expect(json.scenario.nodes).toHaveLength(3);
  expect(json.scenario.reads).toBeGreaterThanOrEqual(200);
  expect(json.throughputOpsPerSec).toBeGreaterThan(0);
  // Every read follows a write on another node: the reads go through the home, none is a hit.
  expect(json.cache.nodes.reduce((sum: number, n: { misses: number }) => sum + n.misses, 0)).toBeGreaterThanOrEqual(200);
});

test("cache-scenario over two unrelated nodes: the reads miss the writes, and the run fails STALE", async () => {
  const a = await TestCluster.start(1);
  const b = await TestCluster.start(1);
  try {
    const nodes = `${a.address("n1")},${b.address("n1")}`;
    const { code, out, json } = await bench(["cache-scenario", "--target", a.address("n1"), "--nodes", nodes, "--connections", "2", "--requests", "20"]);
    expect(code).toBe(EXIT_FAILURES);
    expect(out).toMatch(/STALE \d+ {2}\(scenario-\d: /);
    expect(json.errors.STALE.count).toBeGreaterThan(0);
    expect(json.scenario.staleReads).toBeGreaterThan(0);
  } finally {
    await a.stop();
    await b.stop();
  }
});
