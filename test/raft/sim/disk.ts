// The simulated disk of one node: what survives a crash. Only a Ready that the harness chose to
// "persist" reaches it; a crash discards everything else. It checks that the core never asks for
// a write that would leave a gap or contradict the snapshot.

import type { Entry, HardState, Ready, Snapshot } from "../../../src/raft/index.ts";

export interface DamageMarker {
  index: number;
  term: number;
}

export class SimDisk {
  hardState: HardState = { term: 0, vote: null, commit: 0 };
  snapshot: Snapshot | null = null;
  entries: Entry[] = [];
  /** Set when a damaged restart was simulated; cleared when the core reports votingRestored. */
  damage: DamageMarker | null = null;

  /** Nothing persisted yet: the node starts from its configured membership, not a restore. */
  isEmpty(): boolean {
    return this.hardState.term === 0 && this.snapshot === null && this.entries.length === 0;
  }

  firstIndex(): number {
    return (this.snapshot?.index ?? 0) + 1;
  }

  lastIndex(): number {
    const last = this.entries[this.entries.length - 1];
    return last === undefined ? this.snapshot?.index ?? 0 : last.index;
  }

  persist(rd: Ready): void {
    if (rd.snapshot !== undefined) {
      this.snapshot = rd.snapshot;
      this.entries = [];
    }
    const first = rd.entries[0];
    if (first !== undefined) {
      if (first.index <= (this.snapshot?.index ?? 0)) throw new Error(`disk: write of ${first.index} inside snapshot`);
      if (first.index > this.lastIndex() + 1) {
        throw new Error(`disk: write of ${first.index} leaves a gap after ${this.lastIndex()}`);
      }
      this.entries = this.entries.filter((e) => e.index < first.index).concat(rd.entries);
    }
    if (rd.hardState !== undefined) this.hardState = { ...rd.hardState };
    if (rd.votingRestored === true) this.damage = null;
  }

  compact(snapshot: Snapshot): void {
    if (snapshot.index > this.lastIndex()) throw new Error(`disk: snapshot ${snapshot.index} beyond log ${this.lastIndex()}`);
    this.snapshot = snapshot;
    this.entries = this.entries.filter((e) => e.index > snapshot.index);
  }

  /** Lose the last `count` entries (a corrupt record found inside acknowledged data). */
  damageTail(count: number): DamageMarker | null {
    if (this.entries.length === 0 || count <= 0) return null;
    const lost = Math.min(count, this.entries.length);
    const marker = { index: this.lastIndex(), term: this.hardState.term };
    this.entries = this.entries.slice(0, this.entries.length - lost);
    this.damage = this.damage === null ? marker : { index: Math.max(this.damage.index, marker.index), term: Math.max(this.damage.term, marker.term) };
    return this.damage;
  }

  restoreState(): { hardState: HardState; snapshot: Snapshot | null; entries: Entry[] } {
    return { hardState: { ...this.hardState }, snapshot: this.snapshot, entries: this.entries.slice() };
  }
}
