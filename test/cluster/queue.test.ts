// The queue's promises on real processes: producers and consumers on different nodes run while
// nodes are killed with kill -9 and restarted; then the queue is drained from a node that was
// never killed, and an independent check over the recorded history finds every acknowledged
// produce delivered, nothing delivered after its ack was acknowledged, and nothing delivered
// that was never produced (the checker is tested on a made-up history first). A second test
// covers long-poll across nodes and a visibility timeout that outlives the partition's leader.
import { afterAll, afterEach, expect, test } from "bun:test";
import { connect, SinkronError, type QueueInfo, type SinkronClient } from "../../src/client/index.ts";
import { ProcessCluster } from "../helpers/process-cluster.ts";

const LOAD_MS = Number(process.env.SINKRON_QUEUE_CHAOS_MS ?? 9000);
const QUEUE = "chaos";
const PARTITIONS = 6;
/** Ample, so a message is never dead-lettered by the few redeliveries a failover causes. */
const MAX_DELIVERIES = 1000;
const VISIBILITY_MS = 2500;
/**
 * A load consumer leaves about one in this many first deliveries unacked, as a consumer that
 * crashed would: those must come back after their visibility timeout, across leader changes.
 */
const FORGET_ONE_IN = 50;
const PRODUCERS_PER_CLIENT = 3;
const CONSUMERS_PER_CLIENT = 2;
/** Bounds the history (and so the drain) however fast the machine is. */
const PRODUCE_ATTEMPTS_MAX = 6000;
const DRAIN_MS_MAX = 30_000;
/** Extra `sinkron node` flags for the chaos test, e.g. "--snapshot-entries 100". */
const NODE_ARGS = (process.env.SINKRON_QUEUE_CHAOS_NODE_ARGS ?? "").split(" ").filter((a) => a !== "");

let cluster: ProcessCluster | null = null;
afterEach(async () => {
  await cluster?.dispose();
  cluster = null;
});
afterAll(async () => {
  await cluster?.dispose();
});
// A run that ends early (an uncaught error, a runner exit) must not leave nodes running; kill is synchronous.
process.on("exit", () => void cluster?.stop());

// ------------------------------------------------------------------ history and its checker

interface ProduceOk {
  id: string;
  body: string;
  startMs: number;
  endMs: number;
}

interface DeliveryRecord {
  id: string;
  body: string;
  deliveries: number;
  consumer: string;
  /** When the Q.CONSUME that returned it was sent: anything acked before this must not come back. */
  consumeStartMs: number;
  consumeEndMs: number;
}

interface AckOk {
  id: string;
  endMs: number;
}

interface QueueHistory {
  produced: ProduceOk[];
  /** Bodies of produces whose outcome is unknown (error or timeout): they may or may not exist. */
  unknownBodies: Set<string>;
  delivered: DeliveryRecord[];
  acked: AckOk[];
}

interface CheckResult {
  violations: string[];
  deliveries: number;
  distinctDelivered: number;
  duplicates: number;
  /** Messages from produces of unknown outcome that turned out to exist. */
  unknownDelivered: number;
  /** Deliveries no client saw (counts skipped): consumes that took effect but whose answer was lost. */
  unseenDeliveries: number;
}

/**
 * Judges a history on its own terms: (1) every acknowledged produce was delivered; (2) no
 * delivery was asked for after an ack of that message was acknowledged; (3) every delivered
 * message was produced (acknowledged, or of unknown outcome) with the body delivered; and one
 * message's `deliveries` count never repeats (each delivery is its own committed consume).
 */
function checkQueueHistory(history: QueueHistory): CheckResult {
  const violations: string[] = [];
  const report = (text: string) => {
    if (violations.length < 50) violations.push(text);
  };
  const producedById = new Map<string, ProduceOk>();
  for (const p of history.produced) {
    const earlier = producedById.get(p.id);
    if (earlier !== undefined) report(`id ${p.id} acknowledged for two produces: ${earlier.body} and ${p.body}`);
    producedById.set(p.id, p);
  }
  const firstAckEndMs = new Map<string, number>();
  for (const a of history.acked) firstAckEndMs.set(a.id, Math.min(a.endMs, firstAckEndMs.get(a.id) ?? Infinity));

  const deliveredById = new Map<string, DeliveryRecord[]>();
  let unknownDelivered = 0;
  for (const d of history.delivered) {
    let list = deliveredById.get(d.id);
    if (list === undefined) {
      deliveredById.set(d.id, (list = []));
      if (!producedById.has(d.id) && history.unknownBodies.has(d.body)) unknownDelivered++;
    }
    list.push(d);
    const produced = producedById.get(d.id);
    if (produced !== undefined && produced.body !== d.body) report(`id ${d.id} produced with body ${produced.body} but delivered with ${d.body}`);
    if (produced === undefined && !history.unknownBodies.has(d.body)) report(`id ${d.id} (body ${d.body}) delivered but never produced`);
    const ackMs = firstAckEndMs.get(d.id);
    if (ackMs !== undefined && d.consumeStartMs > ackMs) {
      report(`id ${d.id} delivered (deliveries=${d.deliveries}, to ${d.consumer}) by a consume sent ${(d.consumeStartMs - ackMs).toFixed(0)} ms after its ack was acknowledged`);
    }
  }
  for (const p of history.produced) {
    if (!deliveredById.has(p.id)) report(`acknowledged produce ${p.id} (body ${p.body}, acked at ${p.endMs.toFixed(0)} ms) was never delivered`);
  }
  let unseenDeliveries = 0;
  for (const [id, list] of deliveredById) {
    const counts = list.map((d) => d.deliveries);
    if (new Set(counts).size !== counts.length) report(`id ${id} delivered with repeated deliveries counts [${counts.join(",")}]`);
    unseenDeliveries += Math.max(...counts) - counts.length;
  }
  return {
    violations,
    deliveries: history.delivered.length,
    distinctDelivered: deliveredById.size,
    duplicates: history.delivered.length - deliveredById.size,
    unknownDelivered,
    unseenDeliveries: Math.max(0, unseenDeliveries),
  };
}

// ------------------------------------------------------------------ helpers

function codeOf(error: unknown): string {
  if (error instanceof SinkronError) return error.code;
  throw error;
}

function count(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

/** Q.INFO answered by `via` itself (its own replicas' view), or null when it cannot answer now. */
async function infoFrom(c: ProcessCluster, via: string, queue: string): Promise<QueueInfo | null> {
  const client = await connect({ nodes: [c.address(via)], requestTimeoutMs: 2000, connectTimeoutMs: 2000, reconnect: false }).catch(() => null);
  if (client === null) return null;
  try {
    return await client.queue.info({ queue });
  } catch {
    return null;
  } finally {
    await client.close();
  }
}

async function partitionLeaders(c: ProcessCluster, via: string, queue: string): Promise<(string | null)[] | null> {
  return (await infoFrom(c, via, queue))?.partitions.map((p) => p.leader) ?? null;
}

/** Waits until every partition of `queue` has a leader that is running, as `via` sees it. */
async function waitForPartitionLeaders(c: ProcessCluster, via: string, queue: string, timeoutMs = 15_000): Promise<string[]> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const leaders = await partitionLeaders(c, via, queue);
    if (leaders !== null && leaders.every((l) => l !== null && c.isRunning(l))) return leaders as string[];
    if (performance.now() > deadline) throw new Error(`partitions of ${queue} without a live leader: ${JSON.stringify(leaders)}\n${c.tail()}`);
    await Bun.sleep(100);
  }
}

/** The running node leading the most partitions (group 0's leader breaks ties), not one of `spare`. */
async function busiestLeader(c: ProcessCluster, queue: string, spare: string[]): Promise<string> {
  const via = c.runningIds().find((id) => !spare.includes(id)) ?? c.runningIds()[0]!;
  const leaders = await waitForPartitionLeaders(c, via, queue);
  const group0 = await c.leader();
  const candidates = c.runningIds().filter((id) => !spare.includes(id));
  const led = (id: string) => leaders.filter((l) => l === id).length * 2 + (id === group0 ? 1 : 0);
  return candidates.sort((a, b) => led(b) - led(a))[0]!;
}

/** Waits until `id`'s own replicas show nothing ready, in flight, delayed or dead-lettered. */
async function waitQueueEmptyOn(c: ProcessCluster, id: string, queue: string, timeoutMs = 15_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    const info = await infoFrom(c, id, queue);
    last = info;
    if (info !== null && info.deadLettered === 0 && info.partitions.every((p) => p.ready === 0 && p.inflight === 0 && p.delayed === 0)) return;
    if (performance.now() > deadline) throw new Error(`${id} still sees messages in ${queue}: ${JSON.stringify(last)}\n${c.tail()}`);
    await Bun.sleep(200);
  }
}

// ------------------------------------------------------------------ the tests

test("the checker flags a lost message, a delivery after its ack, a phantom and a repeated count", () => {
  const d = (id: string, body: string, deliveries: number, consumeStartMs: number): DeliveryRecord => ({ id, body, deliveries, consumer: "c", consumeStartMs, consumeEndMs: consumeStartMs + 1 });
  const clean: QueueHistory = {
    produced: [
      { id: "1.1", body: "a", startMs: 0, endMs: 1 },
      { id: "1.2", body: "b", startMs: 0, endMs: 1 },
    ],
    unknownBodies: new Set(["u"]),
    // b is redelivered by a consume sent before its ack was answered: allowed; u may exist.
    delivered: [d("1.1", "a", 1, 2), d("1.2", "b", 1, 2), d("1.2", "b", 2, 9), d("2.1", "u", 1, 3)],
    acked: [
      { id: "1.1", endMs: 5 },
      { id: "1.2", endMs: 10 },
    ],
  };
  expect(checkQueueHistory(clean)).toMatchObject({ violations: [], duplicates: 1, unknownDelivered: 1, unseenDeliveries: 0 });
  const bad: QueueHistory = {
    ...clean,
    produced: [...clean.produced, { id: "1.3", body: "lost", startMs: 0, endMs: 1 }],
    delivered: [...clean.delivered, d("1.1", "a", 2, 6), d("9.9", "phantom", 1, 3), d("1.2", "b", 2, 7)],
  };
  const violations = checkQueueHistory(bad).violations.join("\n");
  expect(violations).toContain("acknowledged produce 1.3 (body lost");
  expect(violations).toContain("id 1.1 delivered (deliveries=2, to c) by a consume sent 1 ms after its ack");
  expect(violations).toContain("id 9.9 (body phantom) delivered but never produced");
  expect(violations).toContain("id 1.2 delivered with repeated deliveries counts [1,2,2]");
});

test(`queue under kill -9 and restart of partition leaders: no acknowledged message lost, none delivered after its ack (${LOAD_MS} ms)`, async () => {
  cluster = await ProcessCluster.start(3, NODE_ARGS);
  const c = cluster;
  const admin = await c.client("n1", { requestTimeoutMs: 10_000 });
  expect(await admin.queue.create({ queue: QUEUE, partitions: PARTITIONS, maxDeliveries: MAX_DELIVERIES })).toMatchObject({ partitions: PARTITIONS, replicas: 3, created: true });
  await waitForPartitionLeaders(c, "n1", QUEUE);

  const history: QueueHistory = { produced: [], unknownBodies: new Set(), delivered: [], acked: [] };
  const produceErrors = new Map<string, number>();
  const consumeErrors = new Map<string, number>();
  const ackOutcomes = new Map<string, number>();
  let running = true;
  let attempts = 0;
  let forgotten = 0;

  // Paced so the attempt budget lasts past the end of the load (whatever the machine's speed):
  // produces must keep coming after the last restart.
  const producerCount = 2 * PRODUCERS_PER_CLIENT;
  const paceMs = (1.3 * LOAD_MS * producerCount) / PRODUCE_ATTEMPTS_MAX;
  const producer = async (client: SinkronClient, name: string) => {
    for (let seq = 0; running && attempts < PRODUCE_ATTEMPTS_MAX; seq++) {
      attempts++;
      const body = `${name}.${seq}`;
      const startMs = performance.now();
      try {
        const { id } = await client.queue.produce({ queue: QUEUE, body });
        history.produced.push({ id, body, startMs, endMs: performance.now() });
        await Bun.sleep(Math.max(2, paceMs - (performance.now() - startMs)));
      } catch (error) {
        count(produceErrors, codeOf(error));
        history.unknownBodies.add(body);
        await Bun.sleep(20);
      }
    }
  };

  const ackUntilKnown = async (client: SinkronClient, id: string, deadlineMs: number) => {
    for (;;) {
      try {
        await client.queue.ack({ queue: QUEUE, id });
        history.acked.push({ id, endMs: performance.now() });
        count(ackOutcomes, "ACKED");
        return;
      } catch (error) {
        const code = codeOf(error);
        count(ackOutcomes, code);
        // NOT_FOUND: acked already (an earlier attempt took effect) or by a consumer it was redelivered to.
        if (code === "NOT_FOUND" || code === "BAD_REQUEST" || performance.now() > deadlineMs) return;
        await Bun.sleep(20);
      }
    }
  };

  /** One Q.CONSUME, recorded, then an ack of each message it returned; the count, or null on error. */
  const consumeAndAck = async (client: SinkronClient, name: string, max: number, waitMs: number, visibilityMs: number): Promise<number | null> => {
    const consumeStartMs = performance.now();
    let got;
    try {
      got = await client.queue.consume({ queue: QUEUE, max, waitMs, visibilityMs });
    } catch (error) {
      count(consumeErrors, `${name === "drain" ? "drain:" : ""}${codeOf(error)}`);
      return null;
    }
    const consumeEndMs = performance.now();
    for (const d of got) history.delivered.push({ id: d.id, body: String(d.body), deliveries: d.deliveries, consumer: name, consumeStartMs, consumeEndMs });
    const toAck = got.filter((d) => name === "drain" || d.deliveries > 1 || Bun.hash.crc32(d.id) % FORGET_ONE_IN !== 0);
    forgotten += got.length - toAck.length;
    await Promise.all(toAck.map((d) => ackUntilKnown(client, d.id, performance.now() + visibilityMs)));
    return got.length;
  };

  const consumer = async (client: SinkronClient, name: string) => {
    while (running) {
      if ((await consumeAndAck(client, name, 16, 300, VISIBILITY_MS)) === null) await Bun.sleep(20);
    }
  };

  const producerClients = await Promise.all(["n1", "n2"].map((id) => c.client(id, { requestTimeoutMs: 4000 })));
  const consumerClients = await Promise.all(["n3", "n1", "n2"].map((id) => c.client(id, { requestTimeoutMs: 4000 })));
  const loadStartMs = performance.now();
  const producers = producerClients.flatMap((client, p) => Array.from({ length: PRODUCERS_PER_CLIENT }, (_, i) => producer(client, `p${p}-${i}`)));
  const consumers = consumerClients.flatMap((client, k) =>
    Array.from({ length: CONSUMERS_PER_CLIENT }, (_, i) => consumer(client, `c${k}-${i}`)),
  );

  // Two rounds of: kill the busiest leader, keep the load on, restart it on its data directory.
  const killed: string[] = [];
  const events: string[] = [];
  const at = (ms: number) => Bun.sleep(Math.max(0, loadStartMs + ms - performance.now()));
  const stamp = () => `+${(performance.now() - loadStartMs).toFixed(0)} ms`;
  const unit = LOAD_MS / 9;
  let lastRestartMs = loadStartMs;
  for (let r = 0; r < 2; r++) {
    await at(unit * (1 + 4 * r) - 400);
    const victim = await busiestLeader(c, QUEUE, killed);
    const leaders = await partitionLeaders(c, victim, QUEUE);
    await at(unit * (1 + 4 * r));
    c.kill9(victim);
    killed.push(victim);
    events.push(`${stamp()} kill -9 ${victim} (leading partitions ${JSON.stringify(leaders)}; ${history.produced.length} produced so far)`);
    await at(unit * (3 + 4 * r));
    c.spawn(victim);
    lastRestartMs = performance.now();
    events.push(`${stamp()} restart ${victim}`);
  }
  await at(LOAD_MS);
  running = false;
  await Promise.all([...producers, ...consumers]);
  const loadEndMs = performance.now();
  const producedAfterLastRestart = history.produced.filter((p) => p.endMs > lastRestartMs).length;
  const ackTimes = history.produced.map((p) => p.endMs).sort((a, b) => a - b);
  let produceGapMs = 0;
  for (let i = 1; i < ackTimes.length; i++) produceGapMs = Math.max(produceGapMs, ackTimes[i]! - ackTimes[i - 1]!);

  // Drain through a node that was never killed, until nothing is ready or in flight anywhere.
  const survivor = c.ids.find((id) => !killed.includes(id))!;
  await waitForPartitionLeaders(c, survivor, QUEUE);
  const drainer = await c.client(survivor, { nodes: [c.address(survivor)], requestTimeoutMs: 5000 });
  const drainDeadlineMs = performance.now() + DRAIN_MS_MAX;
  let quietChecks = 0;
  let drained = false;
  while (!drained && performance.now() < drainDeadlineMs) {
    const got = await consumeAndAck(drainer, "drain", 100, 1000, 3000);
    if (got === null) await Bun.sleep(100);
    if (got !== 0) {
      quietChecks = 0;
      continue;
    }
    // Empty now; done once the survivor's replicas also hold nothing ready, delayed or in flight
    // (in-flight ones come back when their visibility ends), twice in a row.
    const info = await drainer.queue.info({ queue: QUEUE }).catch(() => null);
    const idle = info !== null && info.partitions.every((p) => p.ready === 0 && p.inflight === 0 && p.delayed === 0);
    quietChecks = idle ? quietChecks + 1 : 0;
    drained = quietChecks >= 2;
  }
  const drainMs = performance.now() - loadEndMs;

  const result = checkQueueHistory(history);
  console.log(
    [
      `queue chaos: ${events.join("; ")}`,
      `  produced ${history.produced.length} acknowledged (${producedAfterLastRestart} after the last restart; longest gap between acknowledged produces ${produceGapMs.toFixed(0)} ms), ${history.unknownBodies.size} of unknown outcome ${JSON.stringify(Object.fromEntries(produceErrors))}`,
      `  delivered ${result.deliveries} (${result.distinctDelivered} distinct, ${result.duplicates} duplicates of which ${forgotten} deliberately left unacked, ${result.unknownDelivered} from unknown-outcome produces; ${result.unseenDeliveries} deliveries no client saw)`,
      `  acks ${JSON.stringify(Object.fromEntries(ackOutcomes))}; consume errors ${JSON.stringify(Object.fromEntries(consumeErrors))}`,
      `  drained in ${drainMs.toFixed(0)} ms: ${drained}`,
    ].join("\n"),
  );
  if (result.violations.length > 0) console.log(`violations:\n  ${result.violations.join("\n  ")}\n${c.tail(30)}`);
  expect(result.violations).toEqual([]);
  expect(drained).toBe(true);
  // Every replica, the restarted ones included, comes to agree that the queue is empty.
  for (const id of c.ids) await waitQueueEmptyOn(c, id, QUEUE);
  expect(history.produced.length).toBeGreaterThan(100);
  // The service came back after the second kill: produces were acknowledged after the restart.
  expect(producedAfterLastRestart).toBeGreaterThan(0);
}, 90_000);

test("long-poll on one node answered by a produce through another; a visibility timeout outlives a leader kill", async () => {
  cluster = await ProcessCluster.start(3);
  const c = cluster;
  const admin = await c.client("n1", { requestTimeoutMs: 10_000 });
  await admin.queue.create({ queue: "lp", partitions: PARTITIONS });
  await admin.queue.create({ queue: "vis", partitions: 1 });
  await waitForPartitionLeaders(c, "n1", "lp");
  await waitForPartitionLeaders(c, "n1", "vis");

  // Long-poll on n3, whose answer comes when n1 takes a produce (no polling on the client's side).
  const consumerN3 = await c.client("n3", { nodes: [c.address("n3")] });
  const producerN1 = await c.client("n1", { nodes: [c.address("n1")] });
  const pollStartMs = performance.now();
  const waiting = consumerN3.queue.consume({ queue: "lp", waitMs: 20_000 });
  await Bun.sleep(500);
  const { id: lpId } = await producerN1.queue.produce({ queue: "lp", body: "hello" });
  const producedMs = performance.now();
  const got = await waiting;
  const answeredMs = performance.now();
  expect(got.map((d) => [d.id, d.body])).toEqual([[lpId, "hello"]]);
  // Generous for a loaded 2-core machine; a missed wake-up would run to the 20 s wait.
  expect(answeredMs - producedMs).toBeLessThan(5_000);
  console.log(`long-poll: waited ${(producedMs - pollStartMs).toFixed(0)} ms, answered ${(answeredMs - producedMs).toFixed(0)} ms after the produce was acknowledged`);
  await consumerN3.queue.ack({ queue: "lp", id: lpId });

  // Take the message with a short visibility and never ack it; kill the partition's leader.
  const { id } = await admin.queue.produce({ queue: "vis", body: "once" });
  const [leader] = await waitForPartitionLeaders(c, "n1", "vis");
  const survivor = c.ids.find((n) => n !== leader)!;
  const survivorClient = await c.client(survivor, { nodes: [c.address(survivor)], requestTimeoutMs: 10_000 });
  const firstStartMs = performance.now();
  const first = await survivorClient.queue.consume({ queue: "vis", visibilityMs: 1500, waitMs: 5000 });
  expect(first).toEqual([{ id, body: "once", key: null, deliveries: 1 }]);
  c.kill9(leader!);
  const again = await survivorClient.queue.consume({ queue: "vis", visibilityMs: 30_000, waitMs: 20_000 });
  const againMs = performance.now();
  console.log(`visibility: killed partition leader ${leader}; redelivered through ${survivor} ${(againMs - firstStartMs).toFixed(0)} ms after the first consume`);
  expect(again).toEqual([{ id, body: "once", key: null, deliveries: 2 }]);
  // Not before its visibility ended (the deadline is stamped after the consume was sent).
  expect(againMs - firstStartMs).toBeGreaterThanOrEqual(1500 - 20);
  expect(await survivorClient.queue.ack({ queue: "vis", id })).toEqual({ acked: true });
  expect(await survivorClient.queue.consume({ queue: "vis", waitMs: 2000 })).toEqual([]);
  // The old leader restarts from a disk where the message is still in flight: it must learn of
  // the ack, not bring the message back.
  c.spawn(leader!);
  await c.waitCaughtUp(leader!);
  await waitQueueEmptyOn(c, leader!, "vis");
  const rejoined = await c.client(leader!, { nodes: [c.address(leader!)], requestTimeoutMs: 10_000 });
  expect(await rejoined.queue.consume({ queue: "vis", waitMs: 2500 })).toEqual([]);
}, 60_000);
