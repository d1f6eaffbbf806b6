// The WAL record format: u32 body length, u32 CRC-32 of the body, then the body (kind byte +
// payload), all little-endian. Encoding asserts what it writes; parsing never throws: it says
// exactly how a record failed, because recovery treats a torn tail and inner damage differently.

import { assert, assertUint } from "./assert.ts";
import { ByteReader, DecodeError, type ByteWriter } from "./bytes.ts";
import type { Damage, Entry, EntryType, GroupId, HardState } from "./types.ts";

export const RECORD_HEADER_BYTES = 8;
/** No record body is larger; a longer length field is corruption, not a reason to allocate. */
export const RECORD_BODY_BYTES_MAX = 64 * 1024 * 1024;
/** A batch of entries is split into records of about this size, so no record nears the maximum. */
export const RECORD_BODY_BYTES_TARGET = 1024 * 1024;
/** Kind byte, group and entry count in front of an entries record's entries. */
export const ENTRIES_RECORD_OVERHEAD_BYTES = 1 + 4 + 4;
/** Bumped when the payload layout changes; stored in every checkpoint (the head of each segment). */
export const WAL_FORMAT_VERSION = 2;
/** Version 1 checkpoints (isBase byte, never preallocated) are still read. */
const WAL_FORMAT_VERSIONS_READ = [1, 2];
/** Checkpoint flags (version 2; version 1 had only the base bit). */
export const CHECKPOINT_FLAG_BASE = 1;
export const CHECKPOINT_FLAG_PREALLOCATED = 2;

/**
 * A new kind needs no version bump: every older file still reads. An older build reads a kind it
 * does not know as a malformed record (damage to every group), so it must not open a WAL written since.
 */
export const RecordKind = {
  entries: 1,
  hardState: 2,
  compacted: 3,
  checkpoint: 4,
  damageCleared: 5,
  groupReset: 6,
} as const;

const ENTRY_TYPE_CODES: Record<EntryType, number> = { normal: 0, config: 1, noop: 2 };
const ENTRY_TYPES: readonly EntryType[] = ["normal", "config", "noop"];
const VOTE_NULL = 0xffff;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder("utf-8", { fatal: true });

/** Per-group state carried by every checkpoint so older segments can be deleted. */
export interface CheckpointGroup {
  group: GroupId;
  hardState: HardState;
  compactedIndex: number;
  compactedTerm: number;
  /** Last index of the log at checkpoint time; entries (compactedIndex, lastIndex] are in older segments. */
  lastIndex: number;
  lastTerm: number;
  damage: Damage | null;
}

export type WalRecord =
  | { kind: "entries"; group: GroupId; entries: Entry[] }
  | { kind: "hardState"; group: GroupId; hardState: HardState }
  | { kind: "compacted"; group: GroupId; index: number; term: number; keepsSuffix: boolean }
  /**
   * isBase: the segment holds the whole state; every older segment is obsolete. isPreallocated:
   * the segment file was zero-filled before its first write, so zeros after its data are no tear.
   */
  | { kind: "checkpoint"; isBase: boolean; isPreallocated: boolean; groups: CheckpointGroup[] }
  | { kind: "damageCleared"; group: GroupId }
  /**
   * The group's log starts over empty (the replica left and may rejoin later): entries and the
   * compaction point go, commit becomes 0, term and vote stay (one vote per term, even across a rejoin).
   */
  | { kind: "groupReset"; group: GroupId };

// ---------------------------------------------------------------- encoding

function beginRecord(writer: ByteWriter, kind: number): number {
  const start = writer.length;
  writer.u32(0); // length, patched by endRecord
  writer.u32(0); // checksum, patched by endRecord
  writer.u8(kind);
  return start;
}

function endRecord(writer: ByteWriter, start: number): void {
  const bodyBytes = writer.length - start - RECORD_HEADER_BYTES;
  assert(bodyBytes <= RECORD_BODY_BYTES_MAX, `WAL record body of ${bodyBytes} bytes exceeds ${RECORD_BODY_BYTES_MAX}`);
  const body = writer.bytes().subarray(start + RECORD_HEADER_BYTES);
  writer.patchU32(start, bodyBytes);
  writer.patchU32(start + 4, Bun.hash.crc32(body));
}

function writeHardState(writer: ByteWriter, hardState: HardState): void {
  assertUint(hardState.term, 64, "hardState.term");
  assertUint(hardState.commit, 64, "hardState.commit");
  writer.u64(hardState.term);
  writer.u64(hardState.commit);
  if (hardState.vote === null) {
    writer.u16(VOTE_NULL);
    return;
  }
  const vote = textEncoder.encode(hardState.vote);
  assert(vote.length < VOTE_NULL, `vote id of ${vote.length} bytes is too long`);
  writer.u16(vote.length);
  writer.raw(vote);
}

/** Encoded size of one entry inside an entries record (for splitting batches). */
export function entryEncodedBytes(entry: Entry): number {
  return 8 + 8 + 1 + 4 + entry.data.length;
}

export function encodeEntries(writer: ByteWriter, group: GroupId, entries: readonly Entry[]): void {
  assert(entries.length > 0, "an entries record holds at least one entry");
  const start = beginRecord(writer, RecordKind.entries);
  writer.u32(group);
  writer.u32(entries.length);
  for (const entry of entries) {
    writer.u64(entry.index);
    writer.u64(entry.term);
    writer.u8(ENTRY_TYPE_CODES[entry.type]);
    writer.u32(entry.data.length);
    writer.raw(entry.data);
  }
  endRecord(writer, start);
}

/** Encode a batch as entries records of about RECORD_BODY_BYTES_TARGET each; returns the record count. */
export function encodeEntriesSplit(writer: ByteWriter, group: GroupId, entries: readonly Entry[]): number {
  let records = 0;
  let start = 0;
  let bodyBytes = ENTRIES_RECORD_OVERHEAD_BYTES;
  for (let i = 0; i < entries.length; i++) {
    const entryBytes = entryEncodedBytes(entries[i]!);
    if (i > start && bodyBytes + entryBytes > RECORD_BODY_BYTES_TARGET) {
      encodeEntries(writer, group, entries.slice(start, i));
      records++;
      start = i;
      bodyBytes = ENTRIES_RECORD_OVERHEAD_BYTES;
    }
    bodyBytes += entryBytes;
  }
  encodeEntries(writer, group, start === 0 ? entries : entries.slice(start));
  return records + 1;
}

export function encodeHardState(writer: ByteWriter, group: GroupId, hardState: HardState): void {
  const start = beginRecord(writer, RecordKind.hardState);
  writer.u32(group);
  writeHardState(writer, hardState);
  endRecord(writer, start);
}

export function encodeCompacted(writer: ByteWriter, group: GroupId, index: number, term: number, keepsSuffix: boolean): void {
  const start = beginRecord(writer, RecordKind.compacted);
  writer.u32(group);
  writer.u64(index);
  writer.u64(term);
  writer.u8(keepsSuffix ? 1 : 0);
  endRecord(writer, start);
}

export function encodeCheckpoint(writer: ByteWriter, isBase: boolean, groups: readonly CheckpointGroup[], isPreallocated = false): void {
  const start = beginRecord(writer, RecordKind.checkpoint);
  writer.u8(WAL_FORMAT_VERSION);
  writer.u8((isBase ? CHECKPOINT_FLAG_BASE : 0) | (isPreallocated ? CHECKPOINT_FLAG_PREALLOCATED : 0));
  writer.u32(groups.length);
  for (const g of groups) {
    writer.u32(g.group);
    writeHardState(writer, g.hardState);
    writer.u64(g.compactedIndex);
    writer.u64(g.compactedTerm);
    writer.u64(g.lastIndex);
    writer.u64(g.lastTerm);
    writer.u64(g.damage?.index ?? 0);
    writer.u64(g.damage?.term ?? 0);
  }
  endRecord(writer, start);
}

export function encodeDamageCleared(writer: ByteWriter, group: GroupId): void {
  const start = beginRecord(writer, RecordKind.damageCleared);
  writer.u32(group);
  endRecord(writer, start);
}

export function encodeGroupReset(writer: ByteWriter, group: GroupId): void {
  const start = beginRecord(writer, RecordKind.groupReset);
  writer.u32(group);
  endRecord(writer, start);
}

// ---------------------------------------------------------------- parsing

export type ParseResult =
  | { status: "ok"; record: WalRecord; endOffset: number }
  /** The header or the body runs past the end of the bytes. */
  | { status: "short" }
  /** The length field is zero or larger than any record we write. */
  | { status: "badLength" }
  | { status: "badChecksum" }
  /** The checksum matches but the body does not decode: a bug or an unknown format version. */
  | { status: "malformed"; reason: string; endOffset: number };

/** Views over file contents: a Buffer's subarray() makes Buffers, much slower than plain views. */
export function plainBytes(buffer: Uint8Array): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** Just the framing checks; cheap enough to try at every offset when resynchronising. */
export function checkFrame(bytes: Uint8Array, view: DataView, offset: number): "ok" | "short" | "badLength" | "badChecksum" {
  if (offset + RECORD_HEADER_BYTES > bytes.length) return "short";
  const bodyBytes = view.getUint32(offset, true);
  if (bodyBytes === 0 || bodyBytes > RECORD_BODY_BYTES_MAX) return "badLength";
  const bodyStart = offset + RECORD_HEADER_BYTES;
  if (bodyStart + bodyBytes > bytes.length) return "short";
  const checksum = view.getUint32(offset + 4, true);
  return Bun.hash.crc32(new Uint8Array(bytes.buffer, bytes.byteOffset + bodyStart, bodyBytes)) === checksum ? "ok" : "badChecksum";
}

/**
 * Whether a body's length fields add up to its size, for its kind. Costs no allocation and no
 * checksum, so resynchronising past garbage rarely computes a CRC over a bogus candidate.
 */
export function isPlausibleBody(bytes: Uint8Array, view: DataView, bodyStart: number, bodyBytes: number): boolean {
  const end = bodyStart + bodyBytes;
  switch (bytes[bodyStart]) {
    case RecordKind.entries: {
      if (bodyBytes < ENTRIES_RECORD_OVERHEAD_BYTES) return false;
      const count = view.getUint32(bodyStart + 5, true);
      if (count === 0) return false;
      let at = bodyStart + ENTRIES_RECORD_OVERHEAD_BYTES;
      for (let i = 0; i < count; i++) {
        if (at + 21 > end || bytes[at + 16]! >= ENTRY_TYPES.length) return false;
        at += 21 + view.getUint32(at + 17, true);
      }
      return at === end;
    }
    case RecordKind.hardState: {
      if (bodyBytes < 23) return false;
      const voteBytes = view.getUint16(bodyStart + 21, true);
      return bodyBytes === 23 + (voteBytes === VOTE_NULL ? 0 : voteBytes);
    }
    case RecordKind.compacted:
      return bodyBytes === 22 && bytes[bodyStart + 21]! <= 1;
    case RecordKind.checkpoint: {
      const version = bytes[bodyStart + 1]!;
      if (bodyBytes < 7 || !WAL_FORMAT_VERSIONS_READ.includes(version) || bytes[bodyStart + 2]! > (version === 1 ? 1 : 3)) return false;
      const count = view.getUint32(bodyStart + 3, true);
      let at = bodyStart + 7;
      for (let i = 0; i < count; i++) {
        if (at + 22 + 48 > end) return false;
        const voteBytes = view.getUint16(at + 20, true);
        at += 22 + (voteBytes === VOTE_NULL ? 0 : voteBytes) + 48;
      }
      return at === end;
    }
    case RecordKind.damageCleared:
    case RecordKind.groupReset:
      return bodyBytes === 5;
    default:
      return false;
  }
}

/** `view` must cover exactly `bytes`; pass one per buffer when parsing many records from it. */
export function parseRecord(bytes: Uint8Array, offset: number, view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)): ParseResult {
  const frame = checkFrame(bytes, view, offset);
  if (frame !== "ok") return { status: frame };
  const bodyStart = offset + RECORD_HEADER_BYTES;
  const endOffset = bodyStart + view.getUint32(offset, true);
  try {
    // Entries' data are views into `bytes`, not copies: an allocation per entry is what made
    // replay slow. The caller hands in a buffer it owns (a freshly read segment).
    const reader = new ByteReader(bytes, bodyStart, endOffset, view);
    const record = decodeBody(reader);
    if (reader.remainingBytes !== 0) {
      return { status: "malformed", reason: `${reader.remainingBytes} trailing bytes`, endOffset };
    }
    return { status: "ok", record, endOffset };
  } catch (error) {
    if (error instanceof DecodeError || error instanceof TypeError) {
      return { status: "malformed", reason: String(error), endOffset };
    }
    throw error;
  }
}

function readHardState(reader: ByteReader): HardState {
  const term = reader.u64();
  const commit = reader.u64();
  const voteBytes = reader.u16();
  // TextDecoder with fatal:true throws TypeError on invalid UTF-8, reported as malformed.
  const vote = voteBytes === VOTE_NULL ? null : textDecoder.decode(reader.raw(voteBytes));
  return { term, vote, commit };
}

function decodeBody(reader: ByteReader): WalRecord {
  const kind = reader.u8();
  switch (kind) {
    case RecordKind.entries: {
      const group = reader.u32();
      const count = reader.u32();
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) {
        const index = reader.u64();
        const term = reader.u64();
        const type = ENTRY_TYPES[reader.u8()];
        if (type === undefined) throw new DecodeError("unknown entry type");
        const data = reader.raw(reader.u32());
        entries.push({ index, term, type, data });
      }
      if (count === 0) throw new DecodeError("empty entries record");
      return { kind: "entries", group, entries };
    }
    case RecordKind.hardState: {
      const group = reader.u32();
      return { kind: "hardState", group, hardState: readHardState(reader) };
    }
    case RecordKind.compacted: {
      const group = reader.u32();
      const index = reader.u64();
      const term = reader.u64();
      const keepsSuffix = reader.u8() === 1;
      return { kind: "compacted", group, index, term, keepsSuffix };
    }
    case RecordKind.checkpoint: {
      const version = reader.u8();
      if (!WAL_FORMAT_VERSIONS_READ.includes(version)) throw new DecodeError(`unknown WAL format version ${version}`);
      const flags = reader.u8();
      if (flags > (version === 1 ? 1 : 3)) throw new DecodeError(`unknown checkpoint flags ${flags}`);
      const isBase = (flags & CHECKPOINT_FLAG_BASE) !== 0;
      const isPreallocated = (flags & CHECKPOINT_FLAG_PREALLOCATED) !== 0;
      const count = reader.u32();
      const groups: CheckpointGroup[] = [];
      for (let i = 0; i < count; i++) {
        const group = reader.u32();
        const hardState = readHardState(reader);
        const compactedIndex = reader.u64();
        const compactedTerm = reader.u64();
        const lastIndex = reader.u64();
        const lastTerm = reader.u64();
        const damageIndex = reader.u64();
        const damageTerm = reader.u64();
        const damage = damageIndex === 0 && damageTerm === 0 ? null : { index: damageIndex, term: damageTerm };
        groups.push({ group, hardState, compactedIndex, compactedTerm, lastIndex, lastTerm, damage });
      }
      return { kind: "checkpoint", isBase, isPreallocated, groups };
    }
    case RecordKind.damageCleared:
      return { kind: "damageCleared", group: reader.u32() };
    case RecordKind.groupReset:
      return { kind: "groupReset", group: reader.u32() };
    default:
      throw new DecodeError(`unknown record kind ${kind}`);
  }
}
