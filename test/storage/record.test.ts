// The record codec on its own: every kind round-trips at its edge values, and every way a frame
// can break is told apart (recovery decides torn tail versus damage on these answers).

import { describe, expect, test } from "bun:test";
import { ByteWriter } from "../../src/storage/bytes.ts";
import {
  RECORD_BODY_BYTES_MAX,
  RECORD_HEADER_BYTES,
  encodeCheckpoint,
  encodeCompacted,
  encodeDamageCleared,
  encodeEntries,
  encodeEntriesSplit,
  encodeGroupReset,
  encodeHardState,
  isPlausibleBody,
  parseRecord,
  type WalRecord,
} from "../../src/storage/record.ts";
import { findNextValidRecord } from "../../src/storage/recovery.ts";
import { makeEntries, seededRandom } from "./helpers.ts";

const BIG = Number.MAX_SAFE_INTEGER;

function parseAll(bytes: Uint8Array): WalRecord[] {
  const records: WalRecord[] = [];
  for (let offset = 0; offset < bytes.length; ) {
    const parsed = parseRecord(bytes, offset);
    if (parsed.status !== "ok") throw new Error(`${parsed.status} at ${offset}`);
    // Resynchronisation's cheap pre-check must accept every record we write.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    expect(isPlausibleBody(bytes, view, offset + RECORD_HEADER_BYTES, parsed.endOffset - offset - RECORD_HEADER_BYTES)).toBe(true);
    records.push(parsed.record);
    offset = parsed.endOffset;
  }
  return records;
}

describe("record codec", () => {
  test("every kind round-trips at its edge values", () => {
    const writer = new ByteWriter(16);
    const entries = [
      { index: BIG - 1, term: BIG, type: "config" as const, data: new Uint8Array([0, 255]) },
      { index: BIG, term: BIG, type: "noop" as const, data: new Uint8Array() },
    ];
    encodeEntries(writer, 0xffff_ffff, entries);
    encodeHardState(writer, 0, { term: BIG, vote: "nœud-ü-🚀", commit: BIG });
    encodeHardState(writer, 1, { term: 0, vote: null, commit: 0 });
    encodeCompacted(writer, 2, BIG, 7, true);
    encodeCompacted(writer, 2, 5, 1, false);
    const groups = [
      { group: 3, hardState: { term: 4, vote: "a", commit: 2 }, compactedIndex: 1, compactedTerm: 1, lastIndex: 9, lastTerm: 4, damage: null },
      { group: 4, hardState: { term: 1, vote: null, commit: 0 }, compactedIndex: 0, compactedTerm: 0, lastIndex: 0, lastTerm: 0, damage: { index: 12, term: 3 } },
    ];
    encodeCheckpoint(writer, true, groups);
    encodeCheckpoint(writer, false, []);
    encodeCheckpoint(writer, false, [], true);
    encodeDamageCleared(writer, 4);
    encodeGroupReset(writer, 0xffff_ffff);
    encodeGroupReset(writer, 0);
    expect(parseAll(writer.bytes())).toEqual([
      { kind: "entries", group: 0xffff_ffff, entries },
      { kind: "hardState", group: 0, hardState: { term: BIG, vote: "nœud-ü-🚀", commit: BIG } },
      { kind: "hardState", group: 1, hardState: { term: 0, vote: null, commit: 0 } },
      { kind: "compacted", group: 2, index: BIG, term: 7, keepsSuffix: true },
      { kind: "compacted", group: 2, index: 5, term: 1, keepsSuffix: false },
      { kind: "checkpoint", isBase: true, isPreallocated: false, groups },
      { kind: "checkpoint", isBase: false, isPreallocated: false, groups: [] },
      { kind: "checkpoint", isBase: false, isPreallocated: true, groups: [] },
      { kind: "damageCleared", group: 4 },
      { kind: "groupReset", group: 0xffff_ffff },
      { kind: "groupReset", group: 0 },
    ]);
  });

  test("large batches are split into several records that together hold every entry", () => {
    const writer = new ByteWriter();
    const entries = makeEntries(1, 1, 40, 2, 100 * 1024);
    expect(encodeEntriesSplit(writer, 1, entries)).toBeGreaterThan(3);
    const records = parseAll(writer.bytes());
    const parsed = records.flatMap((r) => (r.kind === "entries" ? r.entries : []));
    expect(parsed).toEqual(entries);
  });

  test("every way a frame breaks is named", () => {
    const writer = new ByteWriter();
    encodeHardState(writer, 1, { term: 1, vote: null, commit: 0 });
    const good = writer.bytes().slice();
    expect(parseRecord(good, 0).status).toBe("ok");
    expect(parseRecord(good.subarray(0, 5), 0).status).toBe("short");
    expect(parseRecord(good.subarray(0, good.length - 1), 0).status).toBe("short");
    const flipped = good.slice();
    flipped[12]! ^= 4;
    expect(parseRecord(flipped, 0).status).toBe("badChecksum");
    const zeroLength = good.slice();
    new DataView(zeroLength.buffer).setUint32(0, 0, true);
    expect(parseRecord(zeroLength, 0).status).toBe("badLength");
    const hugeLength = good.slice();
    new DataView(hugeLength.buffer).setUint32(0, RECORD_BODY_BYTES_MAX + 1, true);
    expect(parseRecord(hugeLength, 0).status).toBe("badLength");
  });

  test("format version 1 checkpoints (an isBase byte, never preallocated) are still read", () => {
    const writer = new ByteWriter();
    encodeCheckpoint(writer, true, []);
    const bytes = writer.bytes().slice();
    const asVersion1 = (flags: number) => {
      bytes[9] = 1; // formatVersion
      bytes[10] = flags;
      new DataView(bytes.buffer).setUint32(4, Bun.hash.crc32(bytes.subarray(8)) >>> 0, true);
      return parseRecord(bytes, 0);
    };
    expect(asVersion1(1)).toMatchObject({ status: "ok", record: { kind: "checkpoint", isBase: true, isPreallocated: false } });
    expect(asVersion1(0)).toMatchObject({ status: "ok", record: { kind: "checkpoint", isBase: false, isPreallocated: false } });
    expect(asVersion1(2).status).toBe("malformed"); // version 1 had no preallocated flag
  });

  test("resynchronising finds the next valid record, or says there is none", () => {
    const writer = new ByteWriter();
    encodeHardState(writer, 1, { term: 1, vote: null, commit: 0 });
    const firstEnd = writer.length;
    encodeHardState(writer, 2, { term: 3, vote: "x", commit: 0 });
    const bytes = writer.bytes().slice();
    bytes[3]! ^= 0x80; // the first record's length is now impossible
    expect(findNextValidRecord(bytes, 1)).toBe(firstEnd);
    expect(findNextValidRecord(bytes, firstEnd + 1)).toBe("none");
    // Random garbage (a torn multi-MB write of compressed data looks like this) is scanned quickly.
    const garbage = new Uint8Array(4 * 1024 * 1024);
    const random = seededRandom(7);
    for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(random() * 256);
    const startedMs = performance.now();
    expect(findNextValidRecord(garbage, 0)).toBe("none");
    expect(performance.now() - startedMs).toBeLessThan(2000);
  });
});
