// `sinkron bench http` against a real 3-node cluster serving the HTTP API: each of the original
// report's Locust scenarios (lock, queue, cache) runs briefly with no failure and no stale read;
// pointed at two unrelated nodes, the cache scenario's reads miss their writes and the run fails.
// No speed is asserted (speed lives in the README's table, measured with this tool).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BenchUsageError, parseHttpBenchArgs } from "../../bench/args.ts";
import { EXIT_FAILURES, EXIT_OK, EXIT_USAGE, runBench } from "../../bench/cli.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { captureIo } from "./support.ts";

const TEST_TIMEOUT_MS = 30_000;
const HTTP = { http: { host: "127.0.0.1", port: 0 } };

let cluster: TestCluster;
let dir: string;
beforeAll(async () => {
  cluster = await TestCluster.start(3, {}, 0, HTTP);
  await cluster.settled();
  dir = mkdtempSync(join(tmpdir(), "sinkron-bench-http-"));
}, TEST_TIMEOUT_MS);
afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const urlOf = (c: TestCluster, id: string) => `http://127.0.0.1:${c.nodes.get(id)!.httpPort}`;

/** Runs `sinkron bench http …` briefly with --json; the exit code, the printed report and the JSON. */
async function bench(argv: string[]): Promise<{ code: number; out: string; err: string; json: Record<string, any> }> {
  const jsonPath = join(dir, `http-${Math.random().toString(36).slice(2)}.json`);
  const io = captureIo();
  const code = await runBench(["http", ...argv, "--duration", "1s", "--warmup", "0", "--quiet", "--json", jsonPath], io);
  let json: Record<string, any> = {};
  try {
    json = JSON.parse(readFileSync(jsonPath, "utf8"));
  } catch {
    // No report: the assertions on `code` and `err` say why.
  }
  return { code, out: io.out.join(""), err: io.err.join(""), json };
}

describe("flags", () => {
  test("defaults: every scenario, 10 users; --http repeatable and comma-separated", () => {
    const options = parseHttpBenchArgs(["--http", "http://a:1/", "--http", "http://b:2,http://c:3"]);
    expect(options).toEqual({ scenarios: ["lock", "queue", "cache"], users: 10, durationMs: 10_000, warmupMs: 1_000, bases: ["http://a:1", "http://b:2", "http://c:3"], jsonPath: null, token: null, showProgress: true });
    expect(parseHttpBenchArgs(["--http=http://a:1", "--scenario", "queue", "--users", "3", "--duration", "2s", "--warmup", "0"])).toMatchObject({ scenarios: ["queue"], users: 3, durationMs: 2000, warmupMs: 0 });
  });

  test.each([
    [[], "--http"],
    [["--http", "a:1"], "--http"],
    [["--http", "ftp://a:1"], "--http"],
    [["--http", "http://a:1", "--scenario", "kv"], "--scenario"],
    [["--http", "http://a:1", "--users", "0"], "--users"],
    [["--http", "http://a:1", "--target", "a:1"], "unknown option"],
    [["--http", "http://a:1", "--users", "1", "--users", "2"], "twice"],
  ])("refuses %p", (flags, reason) => {
    expect(() => parseHttpBenchArgs(flags)).toThrow(BenchUsageError);
    expect(() => parseHttpBenchArgs(flags)).toThrow(reason);
  });

  test("a bad flag is exit 2", async () => {
    const io = captureIo();
    expect(await runBench(["http", "--http", "http://a:1", "--scenario", "nope"], io)).toBe(EXIT_USAGE);
  });
});

test.each(["lock", "queue", "cache"])(
  "scenario %s over 3 nodes: requests answered, no failure, no stale read",
  async (scenario) => {
    const { code, out, err, json } = await bench(["--scenario", scenario, "--http", ["n1", "n2", "n3"].map((id) => urlOf(cluster, id)).join(",")]);
    expect(err).toBe("");
    expect(code).toBe(EXIT_OK);
    expect(json.scenarios).toHaveLength(1);
    const report = json.scenarios[0];
    expect(report.workload).toBe(`http-${scenario}`);
    expect(report.requestsAnswered).toBeGreaterThan(0);
    expect(report.requestsFailed).toBe(0);
    expect(report.errors).toEqual({});
    expect(report.http).toMatchObject({ scenario, users: 10, failures: 0, staleReads: 0 });
    expect(report.http.requestsPerSec).toBeGreaterThan(0);
    if (scenario === "cache") expect(report.http.reads).toBeGreaterThan(0);
    expect(Object.keys(report.commands).length).toBeGreaterThan(1);
    expect(out).toContain("against the original report");
    expect(out).toMatch(new RegExp(`^${scenario} +10 +[\\d,]+ +0 \\(0\\.00%\\)`, "m"));
  },
  TEST_TIMEOUT_MS,
);

test(
  "cache over two unrelated nodes: the reads miss the writes, STALE, exit 1",
  async () => {
    const a = await TestCluster.start(1, {}, 0, HTTP);
    const b = await TestCluster.start(1, {}, 0, HTTP);
    try {
      await a.settled();
      await b.settled();
      const { code, out, json } = await bench(["--scenario", "cache", "--users", "2", "--http", urlOf(a, "n1"), "--http", urlOf(b, "n1")]);
      expect(code).toBe(EXIT_FAILURES);
      expect(out).toMatch(/STALE [\d,]+ {2}\(user-\d+-\d+: /);
      const report = json.scenarios[0];
      expect(report.errors.STALE.count).toBeGreaterThan(0);
      expect(report.http.staleReads).toBeGreaterThan(0);
      expect(report.http.targetMet).toBe(false);
    } finally {
      await a.stop();
      await b.stop();
    }
  },
  TEST_TIMEOUT_MS,
);

test(
  "a wrong path is a failure by status: every request HTTP_404, exit 1",
  async () => {
    const { code, json } = await bench(["--scenario", "queue", "--users", "1", "--http", `${urlOf(cluster, "n1")}/nope`]);
    expect(code).toBe(EXIT_FAILURES);
    const report = json.scenarios[0];
    expect(report.requestsOk).toBe(0);
    expect(report.errors.HTTP_404.count).toBe(report.requestsFailed);
    expect(report.requestsFailed).toBeGreaterThan(0);
  },
  TEST_TIMEOUT_MS,
);
