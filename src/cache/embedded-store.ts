// The default backing store: group 0's replicated key-value map (src/kv). Reads are linearizable
// (ReadIndex at group 0's leader, thesis §6.4) and writes are committed by a majority before they
// count, so the cache inherits the store's durability. Requests that meet in one event-loop turn
// leave together: one read barrier for many keys, one log entry for many writes (group commit
// one level up, as the queue batches produces). A batch is only formed from requests that had
// all arrived before it left, so its barrier or entry is a valid linearization point for each.
import { CACHE_STORE_READ, GROUP_PROPOSE } from "../protocol/commands.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { KvMachine } from "../kv/kv-machine.ts";
import type { LeaderRouter } from "../replication/leader-router.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { CommandContext } from "../server/registry.ts";
import { KeyedBatcher } from "../util/keyed-batcher.ts";
import { staleEpochError, type BackingStore, type StoreRead } from "./store.ts";
import type { StoreWriteOp } from "./store-machine.ts";

export interface EmbeddedStoreOptions {
  group: RaftGroup;
  kv: KvMachine;
  router: LeaderRouter;
  /** Group 0's current ring epoch (MemberMachine.epoch) on this replica. */
  epochNow: () => number;
}

/** A read answer per key: [] when missing, [value] when found (compact on the wire). */
type ReadAnswer = [] | [unknown];

const BATCH_ITEMS_MAX = 1024;
const BATCH_BYTES_MAX = 4 * 1024 * 1024;
const BACKLOG_MAX = 100_000;
const BATCHES_IN_FLIGHT_MAX = 4;

export class EmbeddedStore implements BackingStore {
  readonly kind = "embedded";
  private readonly reads: KeyedBatcher<number, string, ReadAnswer>;
  private readonly writes: KeyedBatcher<number, StoreWriteOp, boolean>;
  /** Whether this process's first raise wrote its barrier (advanceEpoch). */
  private isBarrierDone = false;

  constructor(private readonly options: EmbeddedStoreOptions) {
    const limits = { itemsMax: BATCH_ITEMS_MAX, weightMax: BATCH_BYTES_MAX, backlogMax: BACKLOG_MAX, inFlightMax: BATCHES_IN_FLIGHT_MAX };
    this.reads = new KeyedBatcher(limits, (epoch, keys) => this.readBatch(epoch, keys));
    this.writes = new KeyedBatcher(limits, (epoch, ops) => this.writeBatch(epoch, ops));
  }

  async read(key: string, epoch: number): Promise<StoreRead> {
    const answer = await this.reads.add(epoch, key, key.length);
    return answer.length === 0 ? { found: false } : { found: true, value: answer[0] };
  }

  async write(key: string, value: unknown, epoch: number): Promise<void> {
    await this.writes.add(epoch, [key, value], key.length + approximateBytes(value));
  }

  delete(key: string, epoch: number): Promise<boolean> {
    return this.writes.add(epoch, [key], key.length);
  }

  /**
   * Group 0's log moves the epoch by itself. The first call of a process also writes an empty,
   * fenced batch through the log as a barrier: once it is committed, any cache write a process
   * before a restart proposed has either been applied or can never be, so nothing this node reads
   * afterwards can be overtaken by such a write. Later ring changes need no barrier: this
   * process's own writes are fenced by the epoch in the log.
   */
  async advanceEpoch(epoch: number): Promise<void> {
    if (this.isBarrierDone) return;
    await this.writeBatch(epoch, []);
    this.isBarrierDone = true;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /**
   * CACHE.STORE.READ on group 0's leader: one read barrier for all `keys`, then the values as
   * of that point — refused when the epoch there is not the caller's.
   */
  async readOnLeader(epoch: number, keys: string[]): Promise<ReadAnswer[]> {
    const { group, kv, epochNow } = this.options;
    await group.readBarrier();
    const storeEpoch = epochNow();
    if (storeEpoch !== epoch) throw staleEpochError(epoch, storeEpoch);
    return keys.map((key) => {
      const entry = kv.get(key);
      return entry === undefined ? [] : [entry.value];
    });
  }

  /** Serves a peer's CACHE.STORE.READ (answers NOT_LEADER rather than forwarding again). */
  serveRead(args: { epoch: number; keys: string[] }, ctx: CommandContext): Promise<ReadAnswer[]> {
    return this.options.router.run(this.options.group, ctx, CACHE_STORE_READ.name, args, () => this.readOnLeader(args.epoch, args.keys), true);
  }

  private readBatch(epoch: number, keys: string[]): Promise<ReadAnswer[]> {
    return this.options.router.run<unknown>(this.options.group, null, CACHE_STORE_READ.name, { epoch, keys }, () => this.readOnLeader(epoch, keys), true).then((answers) => checkLength(keys.length)<ReadAnswer>(answers));
  }

  private writeBatch(epoch: number, ops: StoreWriteOp[]): Promise<boolean[]> {
    const { group, router } = this.options;
    const args = { epoch, ops };
    // Retry-safe without a rid: a batch applied twice writes the same values again, and no
    // later write of these keys can have been issued meanwhile (a home runs one write per key
    // at a time, and waits for this one's answer).
    return router
      .run(group, null, GROUP_PROPOSE.name, { group: group.id, op: "cache.write", args }, () => group.propose({ op: "cache.write", args, rid: null }), true)
      .then(checkLength(ops.length)) as Promise<boolean[]>;
  }
}

function checkLength(expected: number) {
  return <T>(answers: unknown): T[] => {
    if (!Array.isArray(answers) || answers.length !== expected) throw new SinkronError("INTERNAL", `the store answered ${Array.isArray(answers) ? answers.length : "no"} results for ${expected} requests`);
    return answers as T[];
  };
}

/** Batch weight only; exactness does not matter. */
function approximateBytes(value: unknown): number {
  if (typeof value === "string") return value.length;
  if (value instanceof Uint8Array) return value.byteLength;
  return 64;
}
