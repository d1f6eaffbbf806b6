// Fencing tokens (Kleppmann 2016, "How to do distributed locking": a storage service refuses
// writes carrying a token older than one it has seen). A token is derived from the log index
// of the entry that made the grant: token = index × TOKEN_GRANTS_PER_ENTRY_MAX + k, k the
// grant's rank among that entry's grants of the same lock. Indexes strictly increase in apply
// order on every replica, so tokens strictly increase per lock forever — across snapshots and
// leader changes — with no per-lock counter kept for locks that are gone.
import { assert } from "./assert.ts";
import { TOKEN_GRANTS_PER_ENTRY_MAX } from "./limits.ts";

/** Indexes above this would make tokens exceed Number.MAX_SAFE_INTEGER (2^43 ≈ 8.8e12 entries). */
export const TOKEN_INDEX_MAX = Math.floor(Number.MAX_SAFE_INTEGER / TOKEN_GRANTS_PER_ENTRY_MAX) - 1;

export class TokenMinter {
  private index = 0;
  /** Grants made by the current entry, per lock name. */
  private readonly grantsInEntry = new Map<string, number>();

  /** Starts a new entry; `index` must be above every index seen before. */
  beginEntry(index: number): void {
    assert(Number.isSafeInteger(index) && index > this.index, `log index ${index} does not advance past ${this.index}`);
    assert(index <= TOKEN_INDEX_MAX, `log index ${index} is past the fencing-token range`);
    this.index = index;
    this.grantsInEntry.clear();
  }

  get lastIndex(): number {
    return this.index;
  }

  /** After a restore: the snapshot's last applied index. */
  resetTo(index: number): void {
    assert(Number.isSafeInteger(index) && index >= 0, `snapshot index ${index} is not a log index`);
    this.index = index;
    this.grantsInEntry.clear();
  }

  next(name: string): number {
    const k = this.grantsInEntry.get(name) ?? 0;
    // resolveLockLimits keeps lockWaitersMax + 1 (one entry's grants of one lock) below the bound.
    assert(k < TOKEN_GRANTS_PER_ENTRY_MAX, `lock ${name}: more than ${TOKEN_GRANTS_PER_ENTRY_MAX} grants in entry ${this.index}`);
    this.grantsInEntry.set(name, k + 1);
    return this.index * TOKEN_GRANTS_PER_ENTRY_MAX + k;
  }
}
