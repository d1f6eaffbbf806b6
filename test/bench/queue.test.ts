// The queue workloads against a real 3-node cluster: every produce acknowledged, a backlog
// consumed and acked with nothing left in flight, the original report's scenario without a
// failure. No speed is asserted (speed lives in the README's table, measured with this tool).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { parseBenchArgs } from "../../bench/args.ts";
import { EXIT_FAILURES, EXIT_OK, runBench } from "../../bench/cli.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { captureIo } from "./support.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.start(3);
});
afterAll(() => cluster.stop());

const quiet = ["--warmup", "0", "--quiet"];

test("queue flags: defaults, bounds, and a dead-letter name refused", () => {
  expect(parseBenchArgs(["queue-consume", "--target", "h:1"])).toMatchObject({ queue: "bench", batch: 1, messages: 100_000 });
  expect(parseBenchArgs(["queue-consume", "--target", "h:1", "--queue", "jobs", "--batch", "32", "--messages", "0"])).toMatchObject({ queue: "jobs", batch: 32, messages: 0 });
  expect(() => parseBenchArgs(["queue-consume", "--target", "h:1", "--batch", "1001"])).toThrow("--batch");
  expect(() => parseBenchArgs(["queue-consume", "--target", "h:1", "--batch", "0"])).toThrow("--batch");
  expect(() => parseBenchArgs(["queue-produce", "--target", "h:1", "--queue", "jobs.dead"])).toThrow("dead-letter");
  expect(() => parseBenchArgs(["queue-produce", "--target", "h:1", "--queue", "q".repeat(201)])).toThrow("--queue");
});

test("queue-produce: every message acknowledged and queued", async () => {
  const io = captureIo();
  const code = await runBench(["queue-produce", "--target", cluster.address("n2"), "--queue", "bp", "--pipeline", "32", "--requests", "400", "--value-bytes", "10", ...quiet], io);
  expect(io.err.join("")).toBe("");
  expect(code).toBe(EXIT_OK);
  expect(io.out.join("")).toMatch(/messages\s+[\d,]+ messages\/s {2}\(400 Q.PRODUCE answered OK\)/);
  const client = await cluster.client("n3");
  expect((await client.queue.info({ queue: "bp" })).ready).toBe(400);
});

test("queue-consume: the setup fills the queue, every consume finds a message, every message is acked", async () => {
  const io = captureIo();
  const argv = ["queue-consume", "--target", cluster.address("n1"), "--queue", "bc", "--messages", "800", "--batch", "4", "--pipeline", "16", "--requests", "400", ...quiet];
  expect(await runBench(argv, io)).toBe(EXIT_OK);
  const out = io.out.join("");
  expect(out).toMatch(/errors\s+none/);
  expect(out).toMatch(/by command\s+Q.CONSUME .*\n\s+Q.ACK /);
  // Acks owed when the run ended went out after it: nothing is left in flight.
  const info = await (await cluster.client("n2")).queue.info({ queue: "bc" });
  expect(info.inflight).toBe(0);
  expect(info.ready).toBeGreaterThan(0);
});

test("queue-consume on a queue that runs dry: the empty consumes are failures, not a rate", async () => {
  const io = captureIo();
  const argv = ["queue-consume", "--target", cluster.address("n3"), "--queue", "dry", "--messages", "5", "--pipeline", "4", "--requests", "40", ...quiet];
  expect(await runBench(argv, io)).toBe(EXIT_FAILURES);
  expect(io.out.join("")).toMatch(/UNEXPECTED_VALUE \d+ {2}\(unexpected answer to Q.CONSUME: \[\]\)/);
  expect((await (await cluster.client("n1")).queue.info({ queue: "dry" })).inflight).toBe(0);
});

test("queue-scenario: 10 clients produce, consume and ack in a closed loop without a failure", async () => {
  const io = captureIo();
  const argv = ["queue-scenario", "--target", cluster.address("n2"), "--queue", "bs", "--connections", "10", "--requests", "300", ...quiet];
  expect(await runBench(argv, io)).toBe(EXIT_OK);
  const out = io.out.join("");
  expect(out).toMatch(/errors\s+none/);
  // 300 requests are 100 rounds of produce + consume + ack, give or take the rounds in progress at the end.
  const rounds = Number(/\(([\d,]+) Q.ACK answered OK\)/.exec(out)![1]!.replaceAll(",", ""));
  expect(rounds).toBeGreaterThanOrEqual(90);
  expect(rounds).toBeLessThanOrEqual(100);
  const info = await (await cluster.client("n1")).queue.info({ queue: "bs" });
  expect(info.inflight).toBe(0);
  expect(info.ready).toBeLessThanOrEqual(10);
});
