// The in-memory log: stable/unstable split, conflict search, the reject hint, compaction, and the
// assertions that stop a bug from overwriting committed entries.

import { describe, expect, test } from "bun:test";
import { RaftLog } from "../../src/raft/log.ts";
import type { Entry } from "../../src/raft/index.ts";

const config = { voters: ["a"], learners: [] };
const e = (index: number, term: number): Entry => ({ index, term, type: "normal", data: new Uint8Array([index]) });

function logWithTerms(terms: number[]): RaftLog {
  return RaftLog.restore(config, null, terms.map((t, i) => e(i + 1, t)), 0, false);
}

describe("raft log", () => {
  test("term lookup, up-to-date comparison (§5.4.1)", () => {
    const log = logWithTerms([1, 1, 2, 3]);
    expect([log.term(0), log.term(1), log.term(4), log.term(5)]).toEqual([0, 1, 3, null]);
    expect(log.isUpToDate(4, 3)).toBe(true);
    expect(log.isUpToDate(3, 3)).toBe(false);
    expect(log.isUpToDate(1, 4)).toBe(true);
    expect(log.isUpToDate(9, 2)).toBe(false);
  });

  test("findConflict: first mismatching or missing entry", () => {
    const log = logWithTerms([1, 1, 2]);
    expect(log.findConflict([e(2, 1), e(3, 2)])).toBe(0);
    expect(log.findConflict([e(2, 1), e(3, 3), e(4, 3)])).toBe(3);
    expect(log.findConflict([e(3, 2), e(4, 2)])).toBe(4);
  });

  test("findConflictByTerm: the reject hint skips a whole term", () => {
    const log = logWithTerms([1, 1, 2, 2, 2, 5, 5]);
    expect(log.findConflictByTerm(7, 4)).toBe(5);
    expect(log.findConflictByTerm(7, 1)).toBe(2);
    expect(log.findConflictByTerm(7, 0)).toBe(0);
    expect(log.findConflictByTerm(20, 5)).toBe(7);
  });

  test("truncate replaces an unstable suffix; stableTo ignores a replaced entry", () => {
    const log = logWithTerms([1, 1]);
    log.truncateAndAppend([e(3, 2), e(4, 2)]);
    expect(log.unstableEntries().map((x) => x.index)).toEqual([3, 4]);
    log.truncateAndAppend([e(4, 3)]);
    // The host persisted 3@2, 4@2 meanwhile: only 3 may become stable, 4@2 was replaced.
    log.stableTo(4, 2);
    expect(log.stable()).toBe(2);
    log.stableTo(3, 2);
    expect(log.stable()).toBe(3);
    expect(log.unstableEntries().map((x) => `${x.index}@${x.term}`)).toEqual(["4@3"]);
  });

  test("overwriting a committed entry is an invariant violation", () => {
    const log = logWithTerms([1, 1, 2]);
    log.commitTo(2);
    expect(() => log.truncateAndAppend([e(2, 3)])).toThrow(/at or below commit/);
    expect(() => log.commitTo(9)).toThrow(/beyond last index/);
    expect(log.commitTo(1)).toBe(false);
    expect(log.committed()).toBe(2);
  });

  test("compaction keeps term lookup at the snapshot point and refuses unapplied entries", () => {
    const log = logWithTerms([1, 1, 2, 2]);
    log.commitTo(3);
    expect(() => log.compact({ index: 3, term: 2, config, data: new Uint8Array() })).toThrow(/beyond applied/);
    log.appliedTo(3);
    log.compact({ index: 3, term: 2, config, data: new Uint8Array() });
    expect([log.firstIndex(), log.lastIndex(), log.term(3), log.term(2)]).toEqual([4, 4, 2, null]);
    expect(log.slice(2, 5, 1024)).toBeNull();
    expect(log.slice(4, 5, 1024)?.map((x) => x.index)).toEqual([4]);
  });

  test("slice respects the byte budget but always returns at least one entry", () => {
    const log = logWithTerms([1, 1, 1, 1]);
    expect(log.slice(1, 5, 1)?.length).toBe(1);
    expect(log.slice(1, 5, 50)?.length).toBe(2);
  });

  test("restore refuses a gap and a commit beyond the log unless storage reported damage", () => {
    expect(() => RaftLog.restore(config, null, [e(1, 1), e(3, 1)], 0, false)).toThrow(/where 2 was expected/);
    expect(() => RaftLog.restore(config, null, [e(1, 1)], 5, false)).toThrow(/beyond last index/);
    expect(RaftLog.restore(config, null, [e(1, 1)], 5, true).committed()).toBe(1);
  });
});
