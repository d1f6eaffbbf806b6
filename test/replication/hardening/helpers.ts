// Shared helpers for the review tests: a RaftHost on a temp dir with a composite FSM.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { RaftHost } from "../../../src/replication/raft-host.ts";
import { CompositeStateMachine } from "../../../src/replication/state-machine-composite.ts";
import { KvMachine } from "../../../src/kv/kv-machine.ts";
import { MemberMachine } from "../../../src/node/member-machine.ts";
import { silentLogger } from "../../../src/util/log.ts";
import type { Message } from "../../../src/raft/index.ts";

export function tempDir(tag: string): string {
  return mkdtempSync(path.join(tmpdir(), `sinkron-review-${tag}-`));
}

export function makeFsm(): { fsm: CompositeStateMachine; kv: KvMachine } {
  const fsm = new CompositeStateMachine();
  const kv = new KvMachine();
  fsm.mount("member", new MemberMachine());
  fsm.mount("kv", kv);
  return { fsm, kv };
}

export function makeHost(dataDir: string, nodeId = "n1", sent: Message[] = [], snapshotEntries = 1_000_000, onFatal?: (error: unknown) => void): RaftHost {
  return new RaftHost({
    nodeId,
    dataDir,
    fsync: false,
    timing: { tickMs: 5, electionTicks: 10, heartbeatTicks: 2 },
    snapshotEntries,
    log: silentLogger,
    send: (m) => sent.push(...m),
    random: () => 0.5,
    onFatal,
  });
}

/**
 * Runs the host's ready loop once (what setImmediate would do) and waits for its WAL sync and
 * the rest of the loop; throws what the loop's synchronous part throws.
 */
export async function runReady(host: RaftHost): Promise<void> {
  const inner = host as unknown as { runReady(): void; persisting: Promise<void> | null };
  inner.runReady();
  await inner.persisting;
}
