// A tiny deterministic state machine for the simulation: a running FNV-1a hash over applied
// commands. Two replicas with equal (index, hash) applied the same commands in the same order,
// and its snapshot is small enough to ship on every InstallSnapshot.

import type { Entry } from "../../../src/raft/index.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class HashFsm {
  index = 0;
  hash = 0x811c9dc5;

  apply(entry: Entry): void {
    if (entry.index !== this.index + 1) throw new Error(`fsm: apply ${entry.index} after ${this.index}`);
    this.index = entry.index;
    if (entry.type !== "normal") return;
    let h = this.hash ^ entry.index;
    for (const byte of entry.data) {
      h ^= byte;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    this.hash = h >>> 0;
  }

  encode(): Uint8Array {
    return encoder.encode(JSON.stringify({ index: this.index, hash: this.hash }));
  }

  static decode(data: Uint8Array): HashFsm {
    const raw = JSON.parse(decoder.decode(data)) as { index: number; hash: number };
    const fsm = new HashFsm();
    fsm.index = raw.index;
    fsm.hash = raw.hash;
    return fsm;
  }
}

export function entryKey(entry: Entry): string {
  return entry.type === "noop" ? "noop" : `${entry.type}:${decoder.decode(entry.data)}`;
}

export function commandData(text: string): Uint8Array {
  return encoder.encode(text);
}
