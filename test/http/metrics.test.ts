// GET /metrics as Prometheus text against an in-process 3-node cluster: the series issue 8 asks
// for beyond the basics (Raft proposals, elections, WAL bytes and fsync latency; per-queue
// counts; binary-protocol requests by command and status, and their latency) are there, parse,
// and move as the operations that ran say.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { TestCluster } from "../helpers/cluster.ts";

const TEST_TIMEOUT_MS = 20_000;

let cluster: TestCluster;

beforeAll(async () => {
  cluster = await TestCluster.start(3, {}, 0, { http: { host: "127.0.0.1", port: 0 } });
  await cluster.settled();
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
});

interface Scrape {
  types: Map<string, string>;
  help: Set<string>;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}

async function scrape(id: string): Promise<Scrape> {
  const response = await fetch(`http://127.0.0.1:${cluster.nodes.get(id)!.httpPort}/metrics`, { headers: { accept: "text/plain" } });
  expect(response.status).toBe(200);
  const text = await response.text();
  const out: Scrape = { types: new Map(), help: new Set(), samples: [] };
  for (const line of text.trimEnd().split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^# HELP (sinkron_[a-z_]+) .+$/.exec(line))) out.help.add(m[1]!);
    else if ((m = /^# TYPE (sinkron_[a-z_]+) (gauge|counter|histogram)$/.exec(line))) out.types.set(m[1]!, m[2]!);
    else {
      m = /^(sinkron_[a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
      expect(m, `a sample line: ${line}`).not.toBeNull();
      const labels: Record<string, string> = {};
      if (m![2] !== undefined) {
        for (const pair of m![2].split(",")) {
          const lm = /^([a-z_]+)="([^"\\]*)"$/.exec(pair);
          expect(lm, `a label in ${line}`).not.toBeNull();
          labels[lm![1]!] = lm![2]!;
        }
      }
      const value = Number(m![3]);
      expect(Number.isFinite(value), `a number in ${line}`).toBe(true);
      out.samples.push({ name: m![1]!, labels, value });
    }
  }
  return out;
}

function value(s: Scrape, name: string, labels: Record<string, string> = {}): number {
  const found = s.samples.filter((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return found.reduce((sum, x) => sum + x.value, 0);
}

/** Checks a histogram's shape; returns its _count. */
function checkHistogram(s: Scrape, name: string): number {
  expect(s.types.get(name), name).toBe("histogram");
  expect(s.help.has(name), `HELP for ${name}`).toBe(true);
  const buckets = s.samples.filter((x) => x.name === `${name}_bucket`);
  expect(buckets.length).toBeGreaterThan(1);
  expect(buckets.at(-1)!.labels.le).toBe("+Inf");
  let lastLe = -Infinity;
  let lastCount = 0;
  for (const b of buckets) {
    const le = b.labels.le === "+Inf" ? Infinity : Number(b.labels.le);
    expect(le).toBeGreaterThan(lastLe);
    expect(b.value).toBeGreaterThanOrEqual(lastCount);
    [lastLe, lastCount] = [le, b.value];
  }
  const count = value(s, `${name}_count`);
  expect(lastCount).toBe(count);
  expect(value(s, `${name}_sum`)).toBeGreaterThanOrEqual(0);
  return count;
}

test("every family has HELP and TYPE, and the new series are there", async () => {
  const s = await scrape("n1");
  for (const name of s.types.keys()) expect(s.help.has(name), `HELP for ${name}`).toBe(true);
  for (const x of s.samples) {
    const family = s.types.has(x.name) ? x.name : x.name.replace(/_(bucket|sum|count)$/, "");
    expect(s.types.has(family), `TYPE for ${x.name}`).toBe(true);
  }
  const expected: Record<string, string> = {
    sinkron_raft_proposals_total: "counter",
    sinkron_raft_elections_total: "counter",
    sinkron_raft_leader_changes_total: "counter",
    sinkron_raft_wal_written_bytes_total: "counter",
    sinkron_raft_fsync_seconds: "histogram",
    sinkron_queue_led_partitions: "gauge",
    sinkron_queue_ready_messages: "gauge",
    sinkron_queue_delayed_messages: "gauge",
    sinkron_queue_inflight_messages: "gauge",
    sinkron_queue_dead_lettered_messages: "gauge",
    sinkron_server_requests_total: "counter",
    sinkron_server_request_duration_seconds: "histogram",
  };
  for (const [name, type] of Object.entries(expected)) expect(s.types.get(name), name).toBe(type);
  checkHistogram(s, "sinkron_raft_fsync_seconds");
  checkHistogram(s, "sinkron_server_request_duration_seconds");
  // Every node saw its cluster's first leader come in, and somebody stood for election.
  const scrapes = await Promise.all(["n1", "n2", "n3"].map(scrape));
  for (const x of scrapes) expect(value(x, "sinkron_raft_leader_changes_total")).toBeGreaterThan(0);
  expect(scrapes.reduce((sum, x) => sum + value(x, "sinkron_raft_elections_total"), 0)).toBeGreaterThan(0);
}, TEST_TIMEOUT_MS);

test("N KV.SET over the binary protocol: requests by command and status, latency, proposals and WAL bytes grow", async () => {
  const N = 25;
  const leader = cluster.leaderId()!;
  const before = await scrape("n2");
  const leaderBefore = await scrape(leader);
  const client = await cluster.client("n2");
  for (let i = 0; i < N; i++) await client.kv.set({ key: `metrics-${i}`, value: i });
  await expect(client.kv.get({ key: "" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
  const after = await scrape("n2");
  const leaderAfter = await scrape(leader);

  const ok = { command: "KV.SET", status: "OK" };
  expect(value(after, "sinkron_server_requests_total", ok) - value(before, "sinkron_server_requests_total", ok)).toBe(N);
  const bad = { command: "KV.GET", status: "BAD_REQUEST" };
  expect(value(after, "sinkron_server_requests_total", bad) - value(before, "sinkron_server_requests_total", bad)).toBe(1);
  expect(checkHistogram(after, "sinkron_server_request_duration_seconds") - checkHistogram(before, "sinkron_server_request_duration_seconds")).toBeGreaterThanOrEqual(N + 1);
  // Every answered request is in the histogram: its count is the sum of the per-command counts.
  expect(value(after, "sinkron_server_request_duration_seconds_count")).toBe(value(after, "sinkron_server_requests_total"));

  expect(value(leaderAfter, "sinkron_raft_proposals_total") - value(leaderBefore, "sinkron_raft_proposals_total")).toBeGreaterThanOrEqual(N);
  expect(value(leaderAfter, "sinkron_raft_wal_written_bytes_total")).toBeGreaterThan(value(leaderBefore, "sinkron_raft_wal_written_bytes_total"));
  expect(checkHistogram(leaderAfter, "sinkron_raft_fsync_seconds")).toBeGreaterThan(checkHistogram(leaderBefore, "sinkron_raft_fsync_seconds"));
  // The same numbers STATUS reports.
  const status = cluster.nodes.get(leader)!.status() as unknown as { raft: { proposals: number; wal: { syncs: number } } };
  expect(status.raft.proposals).toBeGreaterThanOrEqual(value(leaderAfter, "sinkron_raft_proposals_total"));
}, TEST_TIMEOUT_MS);

test("per-queue counts, summed over the nodes (each partition counted once, by its leader)", async () => {
  const client = await cluster.client("n1");
  await client.queue.create({ queue: "mq", partitions: 2 });
  for (let i = 0; i < 5; i++) await client.queue.produce({ queue: "mq", body: `m${i}` });
  const got = await client.queue.consume({ queue: "mq", max: 2, waitMs: 1000, visibilityMs: 60_000 });
  expect(got).toHaveLength(2);
  const q = { queue: "mq" };
  let sums = { led: 0, ready: 0, inflight: 0, dead: 0 };
  for (let attempt = 0; attempt < 50; attempt++) {
    const scrapes = await Promise.all(["n1", "n2", "n3"].map(scrape));
    const sum = (name: string) => scrapes.reduce((total, s) => total + value(s, name, q), 0);
    sums = { led: sum("sinkron_queue_led_partitions"), ready: sum("sinkron_queue_ready_messages"), inflight: sum("sinkron_queue_inflight_messages"), dead: sum("sinkron_queue_dead_lettered_messages") };
    if (sums.led === 2 && sums.ready === 3 && sums.inflight === 2) break;
    await Bun.sleep(50);
  }
  expect(sums).toEqual({ led: 2, ready: 3, inflight: 2, dead: 0 });
}, TEST_TIMEOUT_MS);
