// LineTable, the holder side of the cache (src/cache/README.md, "Holder rules"): the LRU and its
// two bounds, lease expiry, and the ticket rules that keep an answer which crossed an
// invalidation (or was overtaken by a later answer) out of the table. Pure: every time is explicit.
import { describe, expect, test } from "bun:test";
import { keyBytes, LINE_OVERHEAD_BYTES, LineTable, type LineGrant, type LineLimits } from "../../src/cache/lines.ts";
import { seededRandom } from "../../src/util/prng.ts";

const ROOMY: LineLimits = { entriesMax: 100, bytesMax: 1 << 20 };

function grant(over: Partial<LineGrant> = {}): LineGrant {
  return { found: true, value: "v", state: "E", leaseEndMs: 1_000, seq: 1, valueBytes: 1, ...over };
}

/** One whole request: ticket, answer, finish — what the service does for an answer nobody crossed. */
function put(table: LineTable, key: string, over: Partial<LineGrant> = {}, nowMs = 0): boolean {
  const ticket = table.start(key);
  const installed = table.install(ticket, grant(over), nowMs);
  table.finish(ticket);
  return installed;
}

function lineBytes(key: string, valueBytes: number): number {
  return keyBytes(key) + valueBytes + LINE_OVERHEAD_BYTES;
}

describe("LRU order", () => {
  test("the least recently used line goes first; a lookup makes a line the most recent", () => {
    const table = new LineTable({ entriesMax: 3, bytesMax: ROOMY.bytesMax });
    put(table, "a");
    put(table, "b");
    put(table, "c");
    expect(table.keysByRecency()).toEqual(["c", "b", "a"]);
    expect(table.lookup("a", 0)?.value).toBe("v");
    expect(table.keysByRecency()).toEqual(["a", "c", "b"]);
    put(table, "d");
    expect(table.keysByRecency()).toEqual(["d", "a", "c"]);
    expect(table.lookup("b", 0)).toBeUndefined();
    expect(table.evictions).toBe(1);
  });

  test("a lookup of the most recent line, or of a missing key, changes nothing", () => {
    const table = new LineTable(ROOMY);
    put(table, "a");
    put(table, "b");
    table.lookup("b", 0);
    table.lookup("zz", 0);
    expect(table.keysByRecency()).toEqual(["b", "a"]);
  });

  test("a new answer for a key already held replaces its line and makes it the most recent", () => {
    const table = new LineTable(ROOMY);
    put(table, "a", { value: "old", seq: 1 });
    put(table, "b");
    expect(put(table, "a", { value: "new", seq: 2, valueBytes: 3 })).toBe(true);
    expect(table.keysByRecency()).toEqual(["a", "b"]);
    expect(table.lookup("a", 0)?.value).toBe("new");
    expect(table.entries).toBe(2);
    expect(table.bytes).toBe(lineBytes("a", 3) + lineBytes("b", 1));
    expect(table.evictions).toBe(0);
  });

  test("matches a reference LRU over random operations (seeded)", () => {
    const seed = Number(process.env["CACHE_LRU_SEED"] ?? 7);
    const random = seededRandom(seed);
    const limits: LineLimits = { entriesMax: 4, bytesMax: 4 * (LINE_OVERHEAD_BYTES + 2 + 20) };
    const table = new LineTable(limits);
    // The reference: an array, most recent first, and a count of what the bounds pushed out.
    let reference: { key: string; bytes: number }[] = [];
    let referenceEvictions = 0;
    for (let step = 0; step < 2_000; step++) {
      const key = `k${Math.floor(random() * 8)}`;
      const roll = random();
      const context = `seed ${seed} step ${step} (replay: CACHE_LRU_SEED=${seed})`;
      if (roll < 0.5) {
        const valueBytes = Math.floor(random() * 40);
        const bytes = lineBytes(key, valueBytes);
        const installed = put(table, key, { valueBytes, seq: step });
        reference = reference.filter((l) => l.key !== key);
        if (bytes <= limits.bytesMax) {
          reference.unshift({ key, bytes });
          while (reference.length > limits.entriesMax || reference.reduce((s, l) => s + l.bytes, 0) > limits.bytesMax) {
            reference.pop();
            referenceEvictions += 1;
          }
        }
        expect(installed, context).toBe(bytes <= limits.bytesMax);
      } else if (roll < 0.85) {
        const hit = table.lookup(key, 0) !== undefined;
        const index = reference.findIndex((l) => l.key === key);
        expect(hit, context).toBe(index >= 0);
        if (index >= 0) reference.unshift(...reference.splice(index, 1));
      } else {
        table.drop(key);
        reference = reference.filter((l) => l.key !== key);
      }
      expect(table.keysByRecency(), context).toEqual(reference.map((l) => l.key));
      expect(table.bytes, context).toBe(reference.reduce((s, l) => s + l.bytes, 0));
      expect(table.evictions, context).toBe(referenceEvictions);
    }
  });
});

describe("bounds", () => {
  test("the entries bound: the oldest lines go, each eviction counted", () => {
    const table = new LineTable({ entriesMax: 2, bytesMax: ROOMY.bytesMax });
    for (const key of ["a", "b", "c", "d", "e"]) put(table, key);
    expect(table.entries).toBe(2);
    expect(table.keysByRecency()).toEqual(["e", "d"]);
    expect(table.evictions).toBe(3);
  });

  test("the bytes bound counts key bytes + value bytes + LINE_OVERHEAD_BYTES per line", () => {
    const two = lineBytes("k1", 10) + lineBytes("k2", 10);
    const table = new LineTable({ entriesMax: 100, bytesMax: two });
    put(table, "k1", { valueBytes: 10 });
    put(table, "k2", { valueBytes: 10 });
    expect(table.bytes).toBe(2 * (2 + 10 + LINE_OVERHEAD_BYTES));
    expect(table.evictions).toBe(0);
    // A third line of the same size: the least recent one goes.
    put(table, "k3", { valueBytes: 10 });
    expect(table.keysByRecency()).toEqual(["k3", "k2"]);
    expect(table.bytes).toBe(two);
    expect(table.evictions).toBe(1);
    // One byte more than half of bytesMax: no other line fits beside it, so both go.
    put(table, "k4", { valueBytes: 11 });
    expect(table.keysByRecency()).toEqual(["k4"]);
    expect(table.bytes).toBe(lineBytes("k4", 11));
    expect(table.evictions).toBe(3);
  });

  test("a line exactly at bytesMax is kept alone; one big line pushes out several small ones", () => {
    const table = new LineTable({ entriesMax: 100, bytesMax: 1_000 });
    put(table, "a", { valueBytes: 100 });
    put(table, "b", { valueBytes: 100 });
    put(table, "c", { valueBytes: 100 });
    expect(table.evictions).toBe(0);
    expect(put(table, "big", { valueBytes: 1_000 - LINE_OVERHEAD_BYTES - 3 })).toBe(true);
    expect(table.keysByRecency()).toEqual(["big"]);
    expect(table.bytes).toBe(1_000);
    expect(table.evictions).toBe(3);
  });

  test("a line larger than bytesMax alone is not kept, and pushes nothing out", () => {
    const table = new LineTable({ entriesMax: 100, bytesMax: 1_000 });
    put(table, "a", { valueBytes: 10 });
    expect(put(table, "huge", { valueBytes: 1_000 - LINE_OVERHEAD_BYTES - 4 + 1 })).toBe(false);
    expect(table.keysByRecency()).toEqual(["a"]);
    expect(table.evictions).toBe(0);
    expect(table.bytes).toBe(lineBytes("a", 10));
  });

  test("a too large answer for a key already held removes the old line (it is not current any more)", () => {
    const table = new LineTable({ entriesMax: 100, bytesMax: 1_000 });
    put(table, "a", { valueBytes: 10, seq: 1 });
    expect(put(table, "a", { valueBytes: 2_000, seq: 2 })).toBe(false);
    expect(table.lookup("a", 0)).toBeUndefined();
    expect(table.entries).toBe(0);
    expect(table.bytes).toBe(0);
    expect(table.evictions).toBe(0);
  });

  test("keys count their UTF-8 bytes", () => {
    expect(keyBytes("abc")).toBe(3);
    expect(keyBytes("é")).toBe(2);
    expect(keyBytes("€")).toBe(3);
    expect(keyBytes("x".repeat(65))).toBe(65);
    const table = new LineTable(ROOMY);
    put(table, "é€", { valueBytes: 0 });
    expect(table.bytes).toBe(5 + LINE_OVERHEAD_BYTES);
  });

  test("entriesMax 0 keeps nothing and counts no eviction", () => {
    const table = new LineTable({ entriesMax: 0, bytesMax: ROOMY.bytesMax });
    expect(put(table, "a")).toBe(false);
    expect(table.entries).toBe(0);
    expect(table.bytes).toBe(0);
    expect(table.evictions).toBe(0);
    expect(table.lookup("a", 0)).toBeUndefined();
  });
});

describe("leases", () => {
  test("a line is served strictly before leaseEndMs; at it the line goes, and that is no eviction", () => {
    const table = new LineTable(ROOMY);
    put(table, "a", { leaseEndMs: 500, valueBytes: 4 });
    expect(table.lookup("a", 499.999)?.value).toBe("v");
    expect(table.lookup("a", 500)).toBeUndefined();
    expect(table.entries).toBe(0);
    expect(table.bytes).toBe(0);
    expect(table.evictions).toBe(0);
    // Gone for good: an earlier clock reading does not bring it back.
    expect(table.lookup("a", 0)).toBeUndefined();
  });

  test("an answer whose lease already ran out on the way is not installed", () => {
    const table = new LineTable(ROOMY);
    expect(put(table, "a", { leaseEndMs: 500 }, 500)).toBe(false);
    expect(put(table, "a", { leaseEndMs: 500 }, 499)).toBe(true);
  });

  test("an expired line does not count against a later answer's seq", () => {
    const table = new LineTable(ROOMY);
    put(table, "a", { leaseEndMs: 100, seq: 9, value: "old" });
    expect(table.lookup("a", 100)).toBeUndefined();
    expect(put(table, "a", { leaseEndMs: 500, seq: 3, value: "new" }, 100)).toBe(true);
  });
});

describe("tickets: answers that crossed an invalidation", () => {
  test("an invalidation between start() and install() makes the answer uninstallable", () => {
    const table = new LineTable(ROOMY);
    const ticket = table.start("a");
    expect(table.invalidate("a")).toBe(false);
    expect(table.install(ticket, grant(), 0)).toBe(false);
    table.finish(ticket);
    expect(table.lookup("a", 0)).toBeUndefined();
  });

  test("an invalidation that came before start() does not affect the answer", () => {
    const table = new LineTable(ROOMY);
    put(table, "a", { seq: 1 });
    expect(table.invalidate("a")).toBe(true);
    expect(table.lookup("a", 0)).toBeUndefined();
    expect(put(table, "a", { seq: 2 })).toBe(true);
  });

  test("an invalidation of another key does not affect the answer", () => {
    const table = new LineTable(ROOMY);
    const ticket = table.start("a");
    table.invalidate("b");
    expect(table.install(ticket, grant(), 0)).toBe(true);
  });

  test("of two requests in flight, only the one that left after the invalidation installs", () => {
    const table = new LineTable(ROOMY);
    const before = table.start("a");
    table.invalidate("a");
    const after = table.start("a");
    expect(table.install(before, grant({ seq: 2 }), 0)).toBe(false);
    expect(table.install(after, grant({ seq: 1 }), 0)).toBe(true);
    table.finish(before);
    table.finish(after);
  });

  test("finish() keeps the pending count while another request is on its way", () => {
    const table = new LineTable(ROOMY);
    const first = table.start("a");
    const second = table.start("a");
    table.invalidate("a");
    table.finish(first);
    expect(table.install(second, grant(), 0)).toBe(false);
    const third = table.start("a");
    expect(table.install(third, grant(), 0)).toBe(true);
    table.finish(second);
    table.finish(third);
  });

  test("after every ticket finished, a new ticket is unaffected by old invalidations", () => {
    const table = new LineTable(ROOMY);
    const old = table.start("a");
    table.invalidate("a");
    table.invalidate("a");
    table.finish(old);
    const fresh = table.start("a");
    expect(fresh.invalidationsAtStart).toBe(0);
    expect(table.install(fresh, grant(), 0)).toBe(true);
    table.finish(fresh);
    // A second finish of the same ticket, or one for a key with nothing pending, is harmless.
    table.finish(fresh);
    table.finish(old);
  });

  test("an answer never replaces a line from a later answer (higher seq); an equal seq does", () => {
    const table = new LineTable(ROOMY);
    put(table, "a", { seq: 5, value: "five" });
    expect(put(table, "a", { seq: 4, value: "four" })).toBe(false);
    expect(table.lookup("a", 0)?.value).toBe("five");
    // Readers of one shared store read get one seq: the same answer may arrive twice.
    expect(put(table, "a", { seq: 5, value: "five again" })).toBe(true);
    expect(put(table, "a", { seq: 6, value: "six" })).toBe(true);
    expect(table.lookup("a", 0)?.value).toBe("six");
  });

  test("a line that says the key does not exist is cached like any other", () => {
    const table = new LineTable(ROOMY);
    put(table, "a", { found: false, value: null, valueBytes: 9 });
    const line = table.lookup("a", 0);
    expect(line?.found).toBe(false);
    expect(table.bytes).toBe(lineBytes("a", 9));
  });
});

describe("clear, drop, downgrade", () => {
  test("clear() drops every line, returns the count, and makes tickets in flight uninstallable", () => {
    const table = new LineTable(ROOMY);
    put(table, "a");
    put(table, "b");
    const inFlight = table.start("c");
    const inFlightHeld = table.start("a");
    expect(table.clear()).toBe(2);
    expect(table.entries).toBe(0);
    expect(table.bytes).toBe(0);
    expect(table.keysByRecency()).toEqual([]);
    expect(table.evictions).toBe(0);
    expect(table.install(inFlight, grant(), 0)).toBe(false);
    expect(table.install(inFlightHeld, grant({ seq: 9 }), 0)).toBe(false);
    table.finish(inFlight);
    table.finish(inFlightHeld);
    // The LRU list is usable after it was cut.
    put(table, "d");
    put(table, "e");
    expect(table.keysByRecency()).toEqual(["e", "d"]);
    expect(table.clear()).toBe(2);
    expect(table.clear()).toBe(0);
  });

  test("drop() removes one line, says whether there was one, and counts no eviction", () => {
    const table = new LineTable(ROOMY);
    put(table, "a");
    put(table, "b");
    put(table, "c");
    expect(table.drop("b")).toBe(true);
    expect(table.drop("b")).toBe(false);
    expect(table.keysByRecency()).toEqual(["c", "a"]);
    expect(table.bytes).toBe(lineBytes("a", 1) + lineBytes("c", 1));
    expect(table.evictions).toBe(0);
    // Dropping the newest and the oldest keeps the list whole.
    table.drop("c");
    table.drop("a");
    expect(table.keysByRecency()).toEqual([]);
    put(table, "z");
    expect(table.keysByRecency()).toEqual(["z"]);
  });

  test("drop() is a local choice, not the home's invalidation: an answer on its way still installs", () => {
    const table = new LineTable(ROOMY);
    const ticket = table.start("a");
    table.drop("a");
    expect(table.install(ticket, grant(), 0)).toBe(true);
  });

  test("invalidate() removes the line and says whether there was one", () => {
    const table = new LineTable(ROOMY);
    put(table, "a");
    expect(table.invalidate("a")).toBe(true);
    expect(table.invalidate("a")).toBe(false);
    expect(table.entries).toBe(0);
  });

  test("downgrade() turns M and E into S and leaves S and missing keys alone", () => {
    const table = new LineTable(ROOMY);
    put(table, "m", { state: "M" });
    put(table, "e", { state: "E" });
    put(table, "s", { state: "S" });
    for (const key of ["m", "e", "s", "missing"]) table.downgrade(key);
    expect(table.lookup("m", 0)?.state).toBe("S");
    expect(table.lookup("e", 0)?.state).toBe("S");
    expect(table.lookup("s", 0)?.state).toBe("S");
    expect(table.lookup("missing", 0)).toBeUndefined();
    // A downgrade is not a drop: the value is still served.
    expect(table.lookup("m", 0)?.value).toBe("v");
  });

  test("the service's memo of a line starts empty and is reset when a downgrade changes the state", () => {
    const table = new LineTable(ROOMY);
    put(table, "e", { state: "E" });
    put(table, "s", { state: "S" });
    expect(table.lookup("e", 0)?.memo).toBeUndefined();
    table.lookup("e", 0)!.memo = "encoded E answer";
    table.lookup("s", 0)!.memo = "encoded S answer";
    table.downgrade("e");
    table.downgrade("s");
    expect(table.lookup("e", 0)?.memo).toBeUndefined();
    // Already S: nothing the memo was derived from changed.
    expect(table.lookup("s", 0)?.memo).toBe("encoded S answer");
    // A new answer for the key is a new line, with nothing derived yet.
    put(table, "s", { state: "S", seq: 2 });
    expect(table.lookup("s", 0)?.memo).toBeUndefined();
  });
});
