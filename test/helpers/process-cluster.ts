// A cluster of real `sinkron node` processes on loopback, for the tests that must kill -9 a
// node: start, kill, restart on the same data directory, and find the leader over the wire.
import type { Subprocess } from "bun";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { connect, type ConnectOptions, type SinkronClient } from "../../src/client/index.ts";
import { freePortRange } from "./ports.ts";

const BIN = path.join(import.meta.dir, "../../bin/sinkron");

export class ProcessCluster {
  readonly ids: string[];
  private readonly procs = new Map<string, Subprocess>();
  private readonly dataDirs = new Map<string, string>();
  private readonly ports = new Map<string, number>();
  private readonly logs = new Map<string, string[]>();
  /** Every process ever spawned, killed ones included, so `dispose` can wait for all of them to exit. */
  private readonly spawned: Subprocess[] = [];
  private readonly clients = new Set<SinkronClient>();

  private constructor(count: number, private readonly extraArgs: string[]) {
    const base = freePortRange(count);
    this.ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
    this.ids.forEach((id, i) => {
      this.ports.set(id, base + i);
      this.dataDirs.set(id, mkdtempSync(path.join(tmpdir(), `sinkron-proc-${id}-`)));
      this.logs.set(id, []);
    });
  }

  static async start(count = 3, extraArgs: string[] = []): Promise<ProcessCluster> {
    const cluster = new ProcessCluster(count, extraArgs);
    for (const id of cluster.ids) cluster.spawn(id);
    await cluster.waitForLeader(15_000);
    return cluster;
  }

  address(id: string): string {
    return `127.0.0.1:${this.ports.get(id)}`;
  }

  addresses(): string[] {
    return this.ids.map((id) => this.address(id));
  }

  spawn(id: string): void {
    const peers = this.ids.map((p) => `${p}=${this.address(p)}`).join(",");
    const proc = Bun.spawn([BIN, "node", "--id", id, "--listen", this.address(id), "--peers", peers, "--data", this.dataDirs.get(id)!, ...this.extraArgs], {
      stdout: "ignore",
      stderr: "pipe",
    });
    this.procs.set(id, proc);
    this.spawned.push(proc);
    void this.collect(id, proc.stderr as ReadableStream<Uint8Array>);
  }

  /** The ids of the nodes whose processes are up (spawned and not killed since). */
  runningIds(): string[] {
    return this.ids.filter((id) => this.procs.has(id));
  }

  /**
   * A client of the whole cluster that starts at `first` and fails over to the others in
   * order, reconnecting with a short backoff; closed by `dispose`.
   */
  async client(first: string, options: Partial<ConnectOptions> = {}): Promise<SinkronClient> {
    const at = this.ids.indexOf(first);
    if (at < 0) throw new Error(`no node ${first}`);
    const nodes = [...this.ids.slice(at), ...this.ids.slice(0, at)].map((id) => this.address(id));
    const client = await connect({ nodes, nodeOrder: "in-order", reconnect: { backoffMsMin: 20, backoffMsMax: 200 }, ...options });
    this.clients.add(client);
    return client;
  }

  /** The process id of `id`'s running node (for signals such as SIGSTOP); undefined when it is not running. */
  pid(id: string): number | undefined {
    return this.procs.get(id)?.pid;
  }

  isRunning(id: string): boolean {
    return this.procs.has(id);
  }

  kill9(id: string): void {
    this.procs.get(id)?.kill("SIGKILL");
    this.procs.delete(id);
  }

  async status(id: string, timeoutMs = 1000): Promise<Record<string, unknown> | null> {
    let client: SinkronClient | null = null;
    try {
      client = await connect({ nodes: [this.address(id)], connectTimeoutMs: timeoutMs, requestTimeoutMs: timeoutMs, reconnect: false });
      return (await client.status()) as unknown as Record<string, unknown>;
    } catch {
      return null;
    } finally {
      await client?.close();
    }
  }

  async leader(): Promise<string | null> {
    for (const id of this.ids) {
      if (!this.isRunning(id)) continue;
      const status = await this.status(id);
      if (status?.role === "leader") return id;
    }
    return null;
  }

  async waitForLeader(timeoutMs = 10_000): Promise<string> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const id = await this.leader();
      if (id !== null) return id;
      if (performance.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms\n${this.tail()}`);
      await Bun.sleep(50);
    }
  }

  /** Waits until `id` has applied everything the leader had committed when asked. */
  async waitCaughtUp(id: string, timeoutMs = 15_000): Promise<void> {
    const leader = await this.waitForLeader();
    const target = ((await this.status(leader))?.commitIndex as number) ?? 0;
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const applied = ((await this.status(id))?.appliedIndex as number | undefined) ?? -1;
      if (applied >= target) return;
      if (performance.now() > deadline) throw new Error(`${id} did not catch up to ${target} (at ${applied})\n${this.tail()}`);
      await Bun.sleep(50);
    }
  }

  tail(lines = 20): string {
    return this.ids.map((id) => `--- ${id}\n${(this.logs.get(id) ?? []).slice(-lines).join("")}`).join("\n");
  }

  async stop(): Promise<void> {
    for (const [id, proc] of this.procs) {
      proc.kill("SIGKILL");
      this.procs.delete(id);
    }
  }

  /**
   * `stop`, then closes the clients made by `client`, waits until every process ever spawned
   * has exited (no orphan outlives the test) and removes the data directories.
   */
  async dispose(): Promise<void> {
    await this.stop();
    await Promise.all([...this.clients].map((c) => c.close().catch(() => {})));
    this.clients.clear();
    for (const proc of this.spawned) proc.kill("SIGKILL");
    await Promise.all(this.spawned.map((proc) => proc.exited));
    for (const dir of this.dataDirs.values()) rmSync(dir, { recursive: true, force: true });
  }

  private async collect(id: string, stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    const log = this.logs.get(id)!;
    for await (const chunk of stream) {
      log.push(decoder.decode(chunk));
      if (log.length > 500) log.splice(0, log.length - 500);
    }
  }
}
