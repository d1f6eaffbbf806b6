// The REPL's readable queue answers: one line per delivered message, a table of partitions with
// totals, short sentences for the rest; errors and unknown shapes fall back to the generic view.
import { expect, test } from "bun:test";
import { BODY_PREVIEW_CHARS, bodyPreview, formatQueueAnswer } from "../../src/cli/repl/format-queue.ts";
import { commandDocs } from "../../src/cli/repl/help.ts";

const ok = (value: unknown) => ({ status: "OK", value });

test("consume: one line per message with id, deliveries, key and a body preview", () => {
  const answer = formatQueueAnswer("Q.CONSUME", ok([
    { id: "7.1", body: "hello", key: null, deliveries: 1 },
    { id: "12.1z", body: new Uint8Array([0, 255, 16]), key: "user-7", deliveries: 3 },
  ]));
  expect(answer).toBe([
    "OK 2 messages",
    "  id     deliveries  key     body",
    '  7.1    1           -       "hello"',
    "  12.1z  3           user-7  <3 bytes hex 00ff10>",
  ].join("\n"));
  expect(formatQueueAnswer("Q.CONSUME", ok([{ id: "7.2", body: "x", key: null, deliveries: 1 }]))).toStartWith("OK 1 message\n");
  expect(formatQueueAnswer("Q.CONSUME", ok([]))).toBe("OK no message");
});

test("long bodies are cut with their full size; text bytes show as text", () => {
  const long = "a".repeat(500);
  expect(bodyPreview(long)).toBe(`"${"a".repeat(BODY_PREVIEW_CHARS)}"… (500 bytes)`);
  expect(bodyPreview(new TextEncoder().encode("hi"))).toBe('<2 bytes "hi">');
  const cut = bodyPreview(new Uint8Array(400).fill(7));
  expect(cut).toStartWith("<400 bytes hex 0707");
  expect(cut).toEndWith("…>");
  expect(cut.length).toBe(BODY_PREVIEW_CHARS + 2);
});

test("info: a table of partitions and the totals, dead letters and the delivery limit", () => {
  const info = formatQueueAnswer("Q.INFO", ok({
    queue: "jobs",
    partitions: [
      { partition: 0, group: 3, leader: "n1", replicas: ["n1", "n2", "n3"], ready: 12, inflight: 1, delayed: 0 },
      { partition: 1, group: 4, leader: null, replicas: ["n2", "n3", "n1"], ready: 0, inflight: 0, delayed: 2 },
    ],
    ready: 14,
    inflight: 1,
    deadLettered: 5,
    maxDeliveries: 16,
  }));
  expect(info).toBe([
    "OK queue jobs, 2 partitions",
    "  partition  group  leader  replicas  ready  inflight  delayed",
    "  0              3  n1      n1,n2,n3     12         1        0",
    "  1              4  -       n2,n3,n1      0         0        2",
    "  total                                  12         1        2",
    "  dead letters: 5 in jobs.dead (a message moves there after 16 deliveries)",
  ].join("\n"));
});

test("info of an unreachable partition and of a dead-letter queue", () => {
  const info = formatQueueAnswer("Q.INFO", ok({
    queue: "jobs.dead",
    partitions: [
      { partition: 0, group: 3, leader: "n1", replicas: ["n1"], ready: 2, inflight: 0, delayed: 0 },
      { partition: 1, group: 4, leader: null, replicas: ["n2"], ready: null, inflight: null, delayed: null },
    ],
    ready: 2,
    inflight: 0,
    deadLettered: 0,
    maxDeliveries: null,
  }))!;
  expect(info.split("\n")).toEqual([
    "OK queue jobs.dead, 2 partitions",
    "  partition  group  leader  replicas  ready  inflight  delayed",
    "  0              3  n1      n1            2         0        0",
    "  1              4  -       n2            ?         ?        ?",
    "  total                                   2         0        0",
    "  (1 partition could not be reached: totals leave it out)",
  ]);
});

test("produce, ack, nack, create and delete read as short lines", () => {
  expect(formatQueueAnswer("Q.PRODUCE", ok({ id: "7.a" }))).toBe("OK produced, id 7.a");
  expect(formatQueueAnswer("Q.ACK", ok({ acked: true }))).toBe("OK acked");
  expect(formatQueueAnswer("Q.NACK", ok({ requeued: true }))).toBe("OK requeued");
  expect(formatQueueAnswer("Q.DELETE", ok({ deleted: true }))).toBe("OK deleted");
  expect(formatQueueAnswer("Q.CREATE", ok({ queue: "jobs", partitions: 6, replicas: 3, maxDeliveries: 16, created: true }))).toBe(
    "OK created queue jobs: 6 partitions × 3 replicas, dead-lettered after 16 deliveries",
  );
  expect(formatQueueAnswer("Q.CREATE", ok({ queue: "v", partitions: 1, replicas: 1, maxDeliveries: 1, created: false }))).toBe(
    "OK queue v already exists: 1 partition × 1 replica, dead-lettered after 1 delivery",
  );
});

test("errors, other commands and unexpected shapes use the generic view", () => {
  expect(formatQueueAnswer("Q.ACK", { status: "NOT_FOUND", value: { message: "no message" } })).toBeNull();
  expect(formatQueueAnswer("KV.GET", ok({ value: 1 }))).toBeNull();
  expect(formatQueueAnswer("Q.CONSUME", ok({ not: "a list" }))).toBeNull();
  expect(formatQueueAnswer("Q.CONSUME", ok([{ id: 1 }]))).toBeNull();
  expect(formatQueueAnswer("Q.INFO", ok({ queue: "q", partitions: [{ partition: 0 }] }))).toBeNull();
  expect(formatQueueAnswer("Q.PRODUCE", ok(null))).toBeNull();
});

test("help: the queue commands come from the catalog, none is planned any more", () => {
  const docs = commandDocs();
  for (const name of ["Q.PRODUCE", "Q.CONSUME", "Q.ACK", "Q.NACK", "Q.CREATE", "Q.INFO", "Q.DELETE"]) {
    const doc = docs.find((d) => d.name === name);
    expect(doc?.isPlanned).toBe(false);
  }
  expect(docs.find((d) => d.name === "Q.CONSUME")!.args.map((a) => a.name)).toEqual(["queue", "max", "waitMs", "visibilityMs"]);
});
