// The kv workloads against a real 3-node cluster: kv-set's writes are all acknowledged and
// readable, kv-get's setup writes its keys first so every read finds its value. No speed is
// asserted (speed lives in the README's table, measured with the same tool).
import { afterAll, beforeAll, expect, test } from "bun:test";
import { EXIT_OK, runBench } from "../../bench/cli.ts";
import { TestCluster } from "../helpers/cluster.ts";
import { captureIo } from "./support.ts";

let cluster: TestCluster;
beforeAll(async () => {
  cluster = await TestCluster.start(3);
});
afterAll(() => cluster.stop());

test("kv-set: every write acknowledged, and the keys hold the value", async () => {
  const io = captureIo();
  const target = cluster.address("n2");
  const code = await runBench(["kv-set", "--target", target, "--pipeline", "16", "--requests", "500", "--warmup", "0", "--keys", "50", "--value-bytes", "10", "--quiet"], io);
  expect(io.err.join("")).toBe("");
  expect(code).toBe(EXIT_OK);
  expect(io.out.join("")).toMatch(/500 answers/);
  const client = await cluster.client("n3");
  expect((await client.kv.get({ key: "k49" })).value).toBe("v".repeat(10));
});

test("kv-get: the setup writes the keys, then every read finds them", async () => {
  const io = captureIo();
  const code = await runBench(["kv-get", "--target", cluster.address("n1"), "--pipeline", "8", "--requests", "300", "--warmup", "0", "--keys", "20", "--quiet"], io);
  expect(code).toBe(EXIT_OK);
});

test("unknown options of the kv workloads are refused", async () => {
  const io = captureIo();
  expect(await runBench(["kv-set", "--target", cluster.address("n1"), "--keys", "0"], io)).toBe(2);
  expect(io.err.join("")).toContain("--keys must be an integer");
});

test("lock: acquire/release pairs all succeed; lock-contended: every client gets its turn, no failures", async () => {
  const io = captureIo();
  expect(await runBench(["lock", "--target", cluster.address("n1"), "--pipeline", "16", "--requests", "400", "--warmup", "0", "--quiet"], io)).toBe(EXIT_OK);
  const contended = captureIo();
  expect(await runBench(["lock-contended", "--target", cluster.address("n2"), "--connections", "10", "--requests", "200", "--warmup", "0", "--keys", "3", "--quiet"], contended)).toBe(EXIT_OK);
  expect(contended.out.join("")).toMatch(/errors\s+none/);
  expect(contended.out.join("")).toMatch(/pairs\s+[\d,]+ pairs\/s {2}\(\d+ LOCK.RELEASE answered OK\)/);
  const client = await cluster.client("n3");
  for (const name of ["resource-A", "resource-B", "resource-C"]) expect((await client.lock.info({ name })).holders).toEqual([]);
});
