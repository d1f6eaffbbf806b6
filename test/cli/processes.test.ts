// The CLI as a person runs it: `sinkron node` answers and shuts down cleanly on SIGTERM, and
// `sinkron cluster` (what `npm start` runs) brings up three nodes that answer PING and STATUS
// and stops them all on Ctrl-C.
import { expect, test } from "bun:test";
import path from "node:path";
import { RawConnection } from "../helpers/raw-connection.ts";
import { freePortRange } from "../helpers/ports.ts";

const BIN = path.join(import.meta.dir, "../../bin/sinkron");

async function connectWithRetry(port: number, timeoutMs = 10_000): Promise<RawConnection> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      return await RawConnection.open(port);
    } catch (error) {
      if (performance.now() > deadline) throw error;
      await Bun.sleep(50);
    }
  }
}

test("sinkron node: serves, then exits 0 on SIGTERM", async () => {
  const port = freePortRange(1);
  const data = `/tmp/sinkron-test-node-${port}`;
  const child = Bun.spawn([BIN, "node", "--id", "a", "--listen", `127.0.0.1:${port}`, "--data", data], { stdout: "pipe", stderr: "pipe" });
  try {
    const conn = await connectWithRetry(port);
    expect(await conn.call(1, "PING")).toEqual([1, "OK", "PONG"]);
    // A single-member cluster elects itself.
    let status = await conn.call(2, "STATUS");
    for (let id = 3; (status[2] as { role: string }).role !== "leader" && id < 100; id++) {
      await Bun.sleep(50);
      status = await conn.call(id, "STATUS");
    }
    expect(status[2]).toMatchObject({ node: "a", role: "leader", leader: "a", durability: "fsync", members: [{ id: "a", address: `127.0.0.1:${port}`, role: "voter" }] });
    child.kill("SIGTERM");
    expect(await child.exited).toBe(0);
    const log = await new Response(child.stderr).text();
    expect(log).toContain("shutting down signal=SIGTERM");
    expect(log).toContain("stopped");
  } finally {
    child.kill("SIGKILL");
  }
}, 20_000);

test("sinkron node: a usage error exits 2 with a message", async () => {
  const child = Bun.spawn([BIN, "node", "--id", "a"], { stdout: "pipe", stderr: "pipe" });
  expect(await child.exited).toBe(2);
  expect(await new Response(child.stderr).text()).toContain("--listen is required");
});

test("sinkron cluster: three nodes answer PING and STATUS, and Ctrl-C stops them all", async () => {
  const base = freePortRange(3);
  const data = `/tmp/sinkron-test-cluster-${base}`;
  const child = Bun.spawn([BIN, "cluster", "--base-port", String(base), "--data", data], { stdout: "pipe", stderr: "pipe" });
  try {
    for (let i = 0; i < 3; i++) {
      const conn = await connectWithRetry(base + i);
      expect(await conn.call(1, "PING")).toEqual([1, "OK", "PONG"]);
      const status = (await conn.call(2, "STATUS"))[2] as { node: string; members: { id: string }[] };
      expect(status.node).toBe(`n${i + 1}`);
      expect(status.members.map((m) => m.id)).toEqual(["n1", "n2", "n3"]);
      conn.close();
    }
    child.kill("SIGINT");
    expect(await child.exited).toBe(0);
    const out = await new Response(child.stdout).text();
    expect(out).toContain(`n1  127.0.0.1:${base}`);
    for (let i = 0; i < 3; i++) await expect(RawConnection.open(base + i)).rejects.toThrow();
  } finally {
    child.kill("SIGKILL");
  }
}, 30_000);
