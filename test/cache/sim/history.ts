// What clients saw, and the two checks over it. The guarantee (README.md; DESIGN.md, "Guarantees"):
//
// - read after acknowledgement: a GET returns the newest write acknowledged before it began, or
//   a newer one, and never a value that was not yet written. Checked as each GET returns,
//   against the store's numbered versions (the ground truth of which write came after which);
// - per-key linearizability, the whole statement: checked after the run (register-check.ts, a
//   Wing–Gong search like test/checkers'), a write with an unknown outcome given returnMs = Infinity.
import type { KvInput, KvOutput, Operation } from "../../checkers/linearizability.ts";
import { checkRegister } from "./register-check.ts";
import type { SimStore, Version } from "./store.ts";

export type OpKind = "get" | "set" | "del";

export interface OpRecord {
  id: number;
  node: string;
  key: string;
  kind: OpKind;
  /** What a SET writes (unique in the run). */
  value: string | null;
  callMs: number;
  /** Null while the operation runs. */
  returnMs: number | null;
  status: "pending" | "ok" | "error";
  /** A GET's value (null: not found); a DEL's "existed". */
  output: string | null | boolean;
  source: "cache" | "store" | null;
  /** For a GET: the newest version of its key acknowledged when it began. */
  floorVersion: number;
}

export class CacheModelViolation extends Error {
  override readonly name = "CacheModelViolation";
  constructor(
    message: string,
    readonly key: string,
    readonly opIds: number[],
  ) {
    super(message);
  }
}

export class History {
  readonly ops: OpRecord[] = [];
  private readonly ackedVersion = new Map<string, number>();

  constructor(private readonly store: SimStore) {}

  begin(node: string, key: string, kind: OpKind, value: string | null, nowMs: number): OpRecord {
    const op: OpRecord = { id: this.ops.length + 1, node, key, kind, value, callMs: nowMs, returnMs: null, status: "pending", output: null, source: null, floorVersion: this.ackedVersion.get(key) ?? 0 };
    this.ops.push(op);
    return op;
  }

  /** A GET returned: it must not be older than what was acknowledged before it began. */
  endGet(op: OpRecord, outcome: { ok: true; value: string | null; source: "cache" | "store" } | { ok: false }, nowMs: number): void {
    op.returnMs = nowMs;
    if (!outcome.ok) {
      op.status = "error";
      return;
    }
    op.status = "ok";
    op.output = outcome.value;
    op.source = outcome.source;
    const versions = this.store.versionsOf(op.key);
    const isAllowed = versions.some((v) => v.version >= op.floorVersion && v.value === outcome.value && v.appliedAtMs <= nowMs);
    if (isAllowed) return;
    const written = versions.find((v) => v.value === outcome.value && v.value !== null);
    const why =
      written === undefined && outcome.value !== null
        ? "a value never written"
        : written !== undefined && written.appliedAtMs > nowMs
          ? `v${written.version}, applied only at ${written.appliedAtMs.toFixed(2)}`
          : `older than v${op.floorVersion}, acknowledged before the GET began`;
    throw new CacheModelViolation(`stale read: ${describeOp(op)} returned ${String(outcome.value)} (${why}); versions of ${op.key}: ${describeVersions(versions)}`, op.key, [op.id]);
  }

  /** A SET or DEL returned; an acknowledged one raises the floor for GETs that begin later. */
  endWrite(op: OpRecord, outcome: { ok: true; existed?: boolean } | { ok: false }, nowMs: number): void {
    op.returnMs = nowMs;
    if (!outcome.ok) {
      op.status = "error";
      return;
    }
    op.status = "ok";
    if (op.kind === "del") op.output = outcome.existed ?? null;
    // A set merged with later ones took effect just before the last of them, at the same instant.
    const version = this.store.versionCarrying(op.id);
    if (version === undefined) throw new CacheModelViolation(`acknowledged write not in the store: ${describeOp(op)}`, op.key, [op.id]);
    this.ackedVersion.set(op.key, Math.max(this.ackedVersion.get(op.key) ?? 0, version.version));
  }

  /** Every operation ended (a timeout ends each one): else the simulation itself is broken. */
  checkFinished(): void {
    const pending = this.ops.filter((op) => op.status === "pending");
    if (pending.length > 0) throw new CacheModelViolation(`operations never finished: ${pending.map(describeOp).join("; ")}`, pending[0]!.key, pending.map((op) => op.id));
  }

  /** After the run (late writes have all landed): the history of each key is linearizable. */
  checkLinearizable(): void {
    const byKey = new Map<string, Operation<KvInput, KvOutput>[]>();
    for (const op of this.ops) {
      const operation = this.asOperation(op);
      if (operation === null) continue;
      const list = byKey.get(op.key) ?? [];
      list.push(operation);
      byKey.set(op.key, list);
    }
    for (const [key, operations] of [...byKey].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const result = checkRegister(operations);
      if (result.ok === true) continue;
      if (result.ok === "unknown") throw new Error(`linearizability check gave up on ${key} after ${result.explored} steps`);
      const suspects = this.ops.filter((op) => op.key === key && op.kind === "get" && op.status === "ok" && !this.wasCurrentDuring(op));
      throw new CacheModelViolation(
        `not linearizable: key ${key} (${operations.length} operations). GETs whose value was not the store's at any instant of their call: ${suspects.map((op) => `${describeOp(op)} returned ${String(op.output)}`).join("; ") || "none"}; versions: ${describeVersions(this.store.versionsOf(key))}`,
        key,
        suspects.map((op) => op.id),
      );
    }
  }

  /** The operations of the run as the linearizability checkers take them (see asOperation). */
  operations(): Operation<KvInput, KvOutput>[] {
    return this.ops.map((op) => this.asOperation(op)).filter((op) => op !== null);
  }

  /**
   * The checker's view of one operation: a failed GET did nothing; a failed write did nothing
   * unless the store applied it (then its outcome is unknown: returnMs = Infinity). Two exact
   * shortcuts keep the search small (each open operation can double it): an unknown write may
   * always be placed last, so a SET that nothing could have observed — no GET returned its
   * value, no DEL that found a value returned after its call — changes no verdict and is left
   * out; and every linearization puts a SET before each GET that returned its (unique) value,
   * so an unknown SET that a GET saw may be closed at the earliest return of those GETs.
   */
  private asOperation(op: OpRecord): Operation<KvInput, KvOutput> | null {
    const input: KvInput = op.kind === "get" ? { kind: "get" } : op.kind === "set" ? { kind: "set", value: op.value! } : { kind: "del" };
    if (op.status === "ok") {
      const output: KvOutput = op.kind === "get" ? { value: op.output as string | null } : op.kind === "del" ? { deleted: op.output === true } : null;
      return { key: op.key, input, output, callMs: op.callMs, returnMs: op.returnMs! };
    }
    if (op.kind === "get" || this.store.versionOfOp(op.id) === undefined) return null;
    if (op.kind === "del") return { key: op.key, input, output: null, callMs: op.callMs, returnMs: Infinity };
    const seenAtMs = this.ops.filter((get) => get.kind === "get" && get.key === op.key && get.status === "ok" && get.output === op.value).map((get) => get.returnMs!);
    if (seenAtMs.length > 0) return { key: op.key, input, output: null, callMs: op.callMs, returnMs: Math.max(op.callMs, Math.min(...seenAtMs)) };
    const mayBeFoundByDel = this.ops.some((del) => del.kind === "del" && del.key === op.key && del.status === "ok" && del.output === true && del.returnMs! >= op.callMs);
    return mayBeFoundByDel ? { key: op.key, input, output: null, callMs: op.callMs, returnMs: Infinity } : null;
  }

  /** Was the GET's value the store's current one at some instant between its call and return? */
  private wasCurrentDuring(op: OpRecord): boolean {
    const versions = this.store.versionsOf(op.key);
    return versions.some((v, i) => v.value === op.output && v.appliedAtMs <= op.returnMs! && (versions[i + 1]?.appliedAtMs ?? Infinity) >= op.callMs);
  }
}

export function describeOp(op: OpRecord): string {
  const what = op.kind === "set" ? `SET ${op.key}=${op.value}` : `${op.kind.toUpperCase()} ${op.key}`;
  const end = op.returnMs === null ? "…" : op.returnMs.toFixed(2);
  return `#${op.id} ${what} at ${op.node} [${op.callMs.toFixed(2)}, ${end}]${op.source === null ? "" : ` from ${op.source}`}`;
}

function describeVersions(versions: readonly Version[]): string {
  return versions.map((v) => `v${v.version}=${v.value}@${v.appliedAtMs === -Infinity ? "start" : v.appliedAtMs.toFixed(2)}${v.opId === null ? "" : `(#${v.opId})`}`).join(" ");
}
