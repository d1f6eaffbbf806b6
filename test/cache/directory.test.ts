// HomeDirectory, the home side of the cache (src/cache/README.md, "States" and "Home rules"),
// driven by hand: fake ports record every effect as a line of text, time is explicit, and each
// test reads as setup, events, expected effects. One test per row of the MESI table and per rule.
import { describe, expect, test } from "bun:test";
import { HomeDirectory, type DirectoryOptions, type Grant, type Reply, type WriteChange } from "../../src/cache/directory.ts";
import { SinkronError } from "../../src/protocol/errors.ts";

const LEASE_MS = 200;
const SEQ_START = 1_000;

type Outcome = { ok: true; grant: Grant } | { ok: false; error: SinkronError };

/** A directory with recording ports; `effects` is drained by `take()`. */
class Home {
  readonly effects: string[] = [];
  readonly wakes: number[] = [];
  /** Every change the directory wrote to the store, as passed (a repair passes the same object). */
  readonly written: WriteChange[] = [];
  /** The round of the latest invalidation of each "key holder" (the effect's text leaves it out). */
  private readonly rounds = new Map<string, number>();
  readonly directory: HomeDirectory;
  /** Each request's outcomes by the name the test gave it; a list, to catch double answers. */
  private readonly outcomes = new Map<string, Outcome[]>();

  constructor(options: Partial<DirectoryOptions> = {}) {
    this.directory = new HomeDirectory(
      {
        storeRead: (key) => this.effects.push(`storeRead ${key}`),
        storeWrite: (key, change) => {
          this.effects.push(`storeWrite ${key} ${change.kind === "set" ? `set ${String(change.value)}` : "delete"}`);
          this.written.push(change);
        },
        invalidate: (key, holder, round) => {
          this.effects.push(`invalidate ${key} ${holder}`);
          this.rounds.set(`${key} ${holder}`, round);
        },
        downgrade: (key, holder) => this.effects.push(`downgrade ${key} ${holder}`),
        wakeAt: (atMs) => this.wakes.push(atMs),
      },
      { leaseMs: LEASE_MS, entriesMax: 1_000, writableAtMs: 0, seqStart: SEQ_START, ...options },
    );
  }

  /** The effects since the last take(), in order. */
  take(): string[] {
    return this.effects.splice(0);
  }

  reply(name: string): Reply {
    return (outcome) => {
      const list = this.outcomes.get(name) ?? [];
      list.push(outcome);
      this.outcomes.set(name, list);
    };
  }

  read(name: string, key: string, from: string, nowMs: number): void {
    this.directory.read(key, from, this.reply(name), nowMs);
  }

  write(name: string, key: string, from: string, change: WriteChange, nowMs: number): void {
    this.directory.write(key, from, change, this.reply(name), nowMs);
  }

  /** The one answer `name` got (fails when it got none or several). */
  answer(name: string): Outcome {
    const list = this.outcomes.get(name) ?? [];
    expect(list.length, `answers to ${name}`).toBe(1);
    return list[0]!;
  }

  granted(name: string): Grant {
    const outcome = this.answer(name);
    if (!outcome.ok) throw new Error(`${name} was refused: ${outcome.error.message}`);
    return outcome.grant;
  }

  isAnswered(name: string): boolean {
    return (this.outcomes.get(name) ?? []).length > 0;
  }

  /** The round of the latest invalidation of `key` sent to `holder` (fails if none was sent). */
  roundOf(key: string, holder: string): number {
    const round = this.rounds.get(`${key} ${holder}`);
    if (round === undefined) throw new Error(`no invalidation of ${key} was sent to ${holder}`);
    return round;
  }

  /** `holder` confirms the latest invalidation of `key` it was sent. */
  confirm(key: string, holder: string, nowMs: number): void {
    this.directory.invalidated(key, holder, this.roundOf(key, holder), nowMs);
  }

  readDone(key: string, value: string | null, nowMs: number): void {
    this.directory.storeReadDone(key, { ok: true, read: value === null ? { found: false } : { found: true, value } }, nowMs);
  }

  writeDone(key: string, nowMs: number): void {
    this.directory.storeWriteDone(key, { ok: true }, nowMs);
  }

  holders(key: string): Record<string, string> {
    return Object.fromEntries(Object.entries(this.directory.holders(key)).map(([node, h]) => [node, `${h.state} until ${h.leaseEndMs}`]));
  }
}

const set = (value: string): WriteChange => ({ kind: "set", value });

/**
 * `node` reads `key` through a whole store read that returns `value` at `nowMs`; the downgrades
 * it causes are dropped (the tests about downgrades look at them step by step).
 */
function readThrough(home: Home, name: string, key: string, node: string, value: string | null, nowMs: number): Grant {
  home.read(name, key, node, nowMs);
  expect(home.take()).toEqual([`storeRead ${key}`]);
  home.readDone(key, value, nowMs);
  expect(home.take().every((effect) => effect.startsWith("downgrade "))).toBe(true);
  return home.granted(name);
}

describe("the MESI table", () => {
  test("read miss with no other holder: E, with a lease counted from the answer", () => {
    const home = new Home();
    home.read("r1", "k", "A", 10);
    expect(home.take()).toEqual(["storeRead k"]);
    expect(home.isAnswered("r1")).toBe(false);
    home.readDone("k", "v1", 30);
    expect(home.granted("r1")).toEqual({ found: true, value: "v1", state: "E", leaseMs: LEASE_MS, seq: SEQ_START + 1 });
    expect(home.holders("k")).toEqual({ A: `E until ${30 + LEASE_MS}` });
    expect(home.take()).toEqual([]);
  });

  test("a key the store does not have is granted too (found: false)", () => {
    const home = new Home();
    const grant = readThrough(home, "r1", "k", "A", null, 0);
    expect(grant).toMatchObject({ found: false, value: null, state: "E", leaseMs: LEASE_MS });
  });

  test("read miss while another holds: the reader gets S, the E holder a downgrade to S", () => {
    const home = new Home();
    readThrough(home, "r1", "k", "A", "v1", 0);
    home.read("r2", "k", "B", 50);
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", "v1", 60);
    expect(home.take()).toEqual(["downgrade k A"]);
    expect(home.granted("r2")).toMatchObject({ state: "S", leaseMs: LEASE_MS });
    expect(home.holders("k")).toEqual({ A: `S until ${LEASE_MS}`, B: `S until ${60 + LEASE_MS}` });
    // A third reader finds only S holders: nobody to downgrade.
    readThrough(home, "r3", "k", "C", "v1", 70);
    expect(home.granted("r3").state).toBe("S");
    expect(home.take()).toEqual([]);
  });

  test("a holder whose lease ended is not another holder: the next reader gets E", () => {
    const home = new Home();
    readThrough(home, "r1", "k", "A", "v1", 0);
    expect(readThrough(home, "r2", "k", "B", "v1", LEASE_MS).state).toBe("E");
    expect(home.take()).toEqual([]);
    expect(home.holders("k")).toEqual({ B: `E until ${2 * LEASE_MS}` });
  });

  test("a holder reading again alone keeps E (renewed lease), not S", () => {
    const home = new Home();
    readThrough(home, "r1", "k", "A", "v1", 0);
    expect(readThrough(home, "r2", "k", "A", "v1", 100).state).toBe("E");
    expect(home.holders("k")).toEqual({ A: `E until ${100 + LEASE_MS}` });
  });

  test("write: the writer gets M with a lease; a sole reader who wrote last keeps M", () => {
    const home = new Home();
    home.write("w1", "k", "A", set("v1"), 0);
    expect(home.take()).toEqual(["storeWrite k set v1"]);
    home.writeDone("k", 20);
    expect(home.granted("w1")).toEqual({ found: true, value: "v1", state: "M", leaseMs: LEASE_MS, seq: SEQ_START + 1 });
    expect(home.holders("k")).toEqual({ A: `M until ${20 + LEASE_MS}` });
    expect(readThrough(home, "r1", "k", "A", "v1", 50).state).toBe("M");
    expect(home.holders("k")).toEqual({ A: `M until ${50 + LEASE_MS}` });
    // Another reader: S for it, and the M holder is told it is S now.
    home.read("r2", "k", "B", 60);
    home.readDone("k", "v1", 60);
    expect(home.take()).toEqual(["storeRead k", "downgrade k A"]);
    expect(home.granted("r2").state).toBe("S");
  });

  test("a writer whose M lease ended reads back E", () => {
    const home = new Home();
    home.write("w1", "k", "A", set("v1"), 0);
    home.writeDone("k", 0);
    home.take();
    expect(readThrough(home, "r1", "k", "A", "v1", LEASE_MS).state).toBe("E");
  });

  test("a delete answers found: false with M, and whether the key existed", () => {
    const home = new Home();
    home.write("d1", "k", "A", { kind: "delete" }, 0);
    expect(home.take()).toEqual(["storeWrite k delete"]);
    home.directory.storeWriteDone("k", { ok: true, existed: true }, 5);
    expect(home.granted("d1")).toMatchObject({ found: false, value: null, state: "M", existed: true });
  });
});

describe("writes invalidate (home rule 3)", () => {
  /** A, B, C read k: C at 0 (lease to 200), A and B at 150 (leases to 350). */
  function threeReaders(): Home {
    const home = new Home();
    readThrough(home, "rc", "k", "C", "v1", 0);
    readThrough(home, "ra", "k", "A", "v1", 150);
    readThrough(home, "rb", "k", "B", "v1", 150);
    home.take();
    return home;
  }

  test("every other holder with a live lease is invalidated: not the writer, not one whose lease ended", () => {
    const home = threeReaders();
    home.write("w", "k", "A", set("v2"), 250);
    expect(home.take()).toEqual(["invalidate k B"]);
    expect(home.wakes).toEqual([350]);
    expect(home.isAnswered("w")).toBe(false);
  });

  test("the store is written only after every holder confirmed; then the writer alone holds M", () => {
    const home = threeReaders();
    home.write("w", "k", "D", set("v2"), 160);
    expect(home.take()).toEqual(["invalidate k C", "invalidate k A", "invalidate k B"]);
    expect(home.wakes).toEqual([350]);
    home.confirm("k", "A", 170);
    home.confirm("k", "C", 171);
    expect(home.take()).toEqual([]);
    // A confirmation from a node that was not asked changes nothing, nor does one twice.
    home.directory.invalidated("k", "Z", home.roundOf("k", "A"), 172);
    home.confirm("k", "A", 172);
    expect(home.take()).toEqual([]);
    home.confirm("k", "B", 180);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.writeDone("k", 190);
    expect(home.granted("w")).toMatchObject({ state: "M", leaseMs: LEASE_MS, value: "v2" });
    expect(home.holders("k")).toEqual({ D: `M until ${190 + LEASE_MS}` });
  });

  test("a holder that does not confirm is waited out: the write goes on when its lease ends, not before", () => {
    const home = threeReaders();
    home.write("w", "k", "D", set("v2"), 160);
    home.take();
    home.confirm("k", "A", 170);
    home.confirm("k", "B", 170);
    // C's lease (to 200) is the last outstanding one now.
    home.directory.tick(199);
    expect(home.take()).toEqual([]);
    expect(home.wakes.at(-1)).toBe(200);
    home.directory.tick(200);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
  });

  test("the wait is for the latest lease end among the silent holders", () => {
    const home = threeReaders();
    home.write("w", "k", "D", set("v2"), 160);
    home.take();
    expect(home.wakes).toEqual([350]);
    home.directory.tick(200);
    expect(home.take()).toEqual([]);
    // C ran out at 200; A and B still hold until 350.
    expect(home.wakes.at(-1)).toBe(350);
    home.directory.tick(349.9);
    expect(home.take()).toEqual([]);
    home.directory.tick(350);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    expect(home.holders("k")).toEqual({});
  });

  test("a confirmation that comes after the holder was waited out changes nothing", () => {
    const home = threeReaders();
    home.write("w", "k", "A", set("v2"), 250);
    home.take();
    home.directory.tick(350);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.confirm("k", "B", 360);
    home.writeDone("k", 370);
    expect(home.holders("k")).toEqual({ A: `M until ${370 + LEASE_MS}` });
  });

  test("the writer's own line is left alone, and other writers' lines are invalidated in turn", () => {
    const home = new Home();
    home.write("w1", "k", "A", set("v1"), 0);
    home.writeDone("k", 0);
    home.write("w2", "k", "B", set("v2"), 10);
    expect(home.take()).toEqual(["storeWrite k set v1", "invalidate k A"]);
    home.confirm("k", "A", 11);
    home.writeDone("k", 12);
    expect(home.holders("k")).toEqual({ B: `M until ${12 + LEASE_MS}` });
  });
});

describe("a confirmation counts only for its own round (home rule 5)", () => {
  test("one round per write: every holder it asks shares it, and the next write has another", () => {
    const home = new Home();
    readThrough(home, "ra", "k", "A", "v0", 0);
    readThrough(home, "rb", "k", "B", "v0", 0);
    home.write("w1", "k", "C", set("v1"), 10);
    expect(home.take()).toEqual(["invalidate k A", "invalidate k B"]);
    const first = home.roundOf("k", "A");
    expect(home.roundOf("k", "B")).toBe(first);
    home.confirm("k", "A", 11);
    home.confirm("k", "B", 11);
    home.writeDone("k", 12);
    home.write("w2", "k", "D", set("v2"), 20);
    expect(home.take()).toEqual(["storeWrite k set v1", "invalidate k C"]);
    expect(home.roundOf("k", "C")).not.toBe(first);
  });

  // The model's scenario (seed 322 of test/cache/model.test.ts): B's answer to the invalidation of
  // an earlier write comes after the home waited B out, B read again, and a later write asked B again.
  test("a late answer to an earlier write's invalidation does not release a later write; the answer to its own does", () => {
    const home = new Home();
    readThrough(home, "rb0", "k", "B", "v0", 0);
    home.write("w1", "k", "A", set("v1"), 50);
    expect(home.take()).toEqual(["invalidate k B"]);
    const stale = home.roundOf("k", "B");
    // B's answer is held up; the home waits B out (lease to 200).
    home.directory.tick(LEASE_MS);
    expect(home.take()).toEqual(["storeWrite k set v1"]);
    home.writeDone("k", LEASE_MS + 1);
    // B reads again (lease to 405), then C writes: B and A (M) are asked.
    readThrough(home, "rb1", "k", "B", "v1", 205);
    home.write("w2", "k", "C", set("v2"), 210);
    expect(home.take()).toEqual(["invalidate k A", "invalidate k B"]);
    const current = home.roundOf("k", "B");
    expect(current).not.toBe(stale);
    home.confirm("k", "A", 212);
    // The answer to the first invalidation arrives now: it confirms nothing.
    home.directory.invalidated("k", "B", stale, 220);
    expect(home.take()).toEqual([]);
    expect(home.isAnswered("w2")).toBe(false);
    expect(home.holders("k")).toMatchObject({ B: `S until ${205 + LEASE_MS}` });
    // Nor does a round that was never sent.
    home.directory.invalidated("k", "B", current + 1, 221);
    expect(home.take()).toEqual([]);
    // B's answer to the current round lets the write go on.
    home.directory.invalidated("k", "B", current, 230);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.writeDone("k", 231);
    expect(home.granted("w2")).toMatchObject({ value: "v2", state: "M", leaseMs: LEASE_MS });
    expect(home.holders("k")).toEqual({ C: `M until ${231 + LEASE_MS}` });
  });

  test("without an answer to its round, the holder is waited out as before", () => {
    const home = new Home();
    readThrough(home, "rb0", "k", "B", "v0", 0);
    home.write("w1", "k", "A", set("v1"), 10);
    const stale = home.roundOf("k", "B");
    home.directory.tick(LEASE_MS);
    home.writeDone("k", LEASE_MS);
    home.take();
    readThrough(home, "rb1", "k", "B", "v1", 300);
    home.write("w2", "k", "A", set("v2"), 310);
    home.take();
    home.directory.invalidated("k", "B", stale, 320);
    home.directory.tick(300 + LEASE_MS - 1);
    expect(home.take()).toEqual([]);
    home.directory.tick(300 + LEASE_MS);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
  });
});

describe("operation order (home rule 1)", () => {
  test("reads queued behind a write wait for it, then get the value it stored, without a store read", () => {
    const home = new Home();
    readThrough(home, "r0", "k", "A", "v1", 0);
    home.write("w", "k", "B", set("v2"), 10);
    expect(home.take()).toEqual(["invalidate k A"]);
    home.read("ra", "k", "A", 11);
    home.read("rc", "k", "C", 12);
    home.read("rd", "k", "D", 13);
    expect(home.take()).toEqual([]);
    home.confirm("k", "A", 14);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    expect(home.isAnswered("ra")).toBe(false);
    home.writeDone("k", 20);
    // Answered only once the write is in the store, with its value: never the old one. Their
    // leases end where one granted when the store write left (at 14) would: 14 + LEASE_MS.
    const grants = ["ra", "rc", "rd"].map((name) => home.granted(name));
    for (const grant of grants) expect(grant).toMatchObject({ value: "v2", state: "S", seq: grants[0]!.seq, leaseMs: 14 + LEASE_MS - 20 });
    expect(grants[0]!.seq).toBeGreaterThan(home.granted("w").seq);
    // B, the writer, held M: three new readers make it S.
    expect(home.take()).toEqual(["downgrade k B"]);
    expect(home.holders("k")).toEqual({ A: `S until ${14 + LEASE_MS}`, B: `S until ${20 + LEASE_MS}`, C: `S until ${14 + LEASE_MS}`, D: `S until ${14 + LEASE_MS}` });
  });

  test("reads behind a write whose store write left a lease ago or more go to the store", () => {
    const home = new Home();
    home.write("w", "k", "B", set("v2"), 0);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.read("r", "k", "A", 1);
    home.writeDone("k", LEASE_MS);
    expect(home.isAnswered("r")).toBe(false);
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", "v2", LEASE_MS + 1);
    expect(home.granted("r")).toMatchObject({ value: "v2", leaseMs: LEASE_MS });
  });

  test("a delete answers the reads behind it NOT found; the writer alone reading keeps M", () => {
    const home = new Home();
    home.write("w", "k", "B", { kind: "delete" }, 0);
    home.read("r", "k", "B", 1);
    home.writeDone("k", 5);
    expect(home.granted("r")).toMatchObject({ found: false, state: "M", leaseMs: LEASE_MS - 5 });
    expect(home.take()).toEqual(["storeWrite k delete"]);
  });

  test("reads on both sides of a write are not merged across it", () => {
    const home = new Home();
    home.read("r1", "k", "A", 0);
    expect(home.take()).toEqual(["storeRead k"]);
    home.write("w", "k", "B", set("v2"), 1);
    home.read("r2", "k", "C", 2);
    home.readDone("k", "v1", 3);
    expect(home.granted("r1").value).toBe("v1");
    expect(home.take()).toEqual(["invalidate k A"]);
    home.confirm("k", "A", 4);
    home.writeDone("k", 5);
    // r2 came while the write ran: the written value, no store read; the writer B becomes S.
    expect(home.take()).toEqual(["storeWrite k set v2", "downgrade k B"]);
    expect(home.granted("r2").value).toBe("v2");
  });

  test("a read that arrives while a store read is in flight waits for the next store read", () => {
    const home = new Home();
    home.read("r1", "k", "A", 0);
    expect(home.take()).toEqual(["storeRead k"]);
    // The store may have read already: an answer to r1 could be older than r2's call.
    home.read("r2", "k", "B", 1);
    home.read("r3", "k", "C", 2);
    expect(home.take()).toEqual([]);
    home.readDone("k", "v1", 3);
    expect(home.granted("r1").state).toBe("E");
    expect(home.isAnswered("r2")).toBe(false);
    // The two that waited side by side share the next store read, issued after both arrived.
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", "v1", 4);
    expect(home.granted("r2").seq).toBe(home.granted("r3").seq);
    expect(home.granted("r2").seq).toBeGreaterThan(home.granted("r1").seq);
    expect(home.granted("r2").state).toBe("S");
    expect(home.take()).toEqual(["downgrade k A"]);
  });

  test("two reads of one node in one batch: that node is the only holder, so E", () => {
    const home = new Home();
    // A write in front (which then fails definitely, registering nobody) makes the reads wait together.
    home.write("w", "k", "Z", set("v"), 0);
    home.read("r1", "k", "A", 1);
    home.read("r2", "k", "A", 1);
    home.directory.storeWriteDone("k", { ok: false, error: new SinkronError("UNAVAILABLE", "no"), ambiguous: false }, 2);
    expect(home.take()).toEqual(["storeWrite k set v", "storeRead k"]);
    home.readDone("k", "v1", 3);
    expect(home.granted("r1").state).toBe("E");
    expect(home.granted("r2").state).toBe("E");
  });

  test("keys are independent: a write waiting on one key does not hold up another", () => {
    const home = new Home();
    readThrough(home, "r1", "a", "A", "v1", 0);
    home.write("w", "a", "B", set("v2"), 1);
    expect(home.take()).toEqual(["invalidate a A"]);
    readThrough(home, "r2", "b", "C", "x", 2);
    home.write("w2", "b", "C", set("y"), 3);
    expect(home.take()).toEqual(["storeWrite b set y"]);
  });

  test("store read failure: every reader of the batch gets the error; the next operation runs", () => {
    const home = new Home();
    home.write("w0", "k", "Z", set("v0"), 0);
    home.read("r1", "k", "A", 0);
    home.read("r2", "k", "B", 0);
    home.write("w", "k", "C", set("v"), 0);
    // Failed definitely: the reads behind it go to the store.
    home.directory.storeWriteDone("k", { ok: false, error: new SinkronError("UNAVAILABLE", "no"), ambiguous: false }, 1);
    expect(home.take()).toEqual(["storeWrite k set v0", "storeRead k"]);
    const error = new SinkronError("UNAVAILABLE", "store down");
    home.directory.storeReadDone("k", { ok: false, error }, 2);
    expect(home.answer("r1")).toEqual({ ok: false, error });
    expect(home.answer("r2")).toEqual({ ok: false, error });
    expect(home.holders("k")).toEqual({});
    expect(home.take()).toEqual(["storeWrite k set v"]);
  });

  test("answers from the store for a key with nothing in flight are ignored", () => {
    const home = new Home();
    home.readDone("k", "v", 0);
    home.writeDone("k", 0);
    readThrough(home, "r1", "k", "A", "v", 0);
    home.writeDone("k", 1);
    home.directory.invalidated("k", "A", 1, 1);
    expect(home.holders("k")).toEqual({ A: `E until ${LEASE_MS}` });
    expect(home.take()).toEqual([]);
  });
});

describe("when writes may run", () => {
  test("writes wait until writableAtMs; reads are served meanwhile", () => {
    const home = new Home({ writableAtMs: 500 });
    readThrough(home, "r1", "k", "A", "v1", 0);
    home.write("w", "k", "B", set("v2"), 10);
    expect(home.take()).toEqual([]);
    expect(home.wakes).toEqual([500]);
    // A read behind the waiting write waits too (one operation at a time).
    home.read("r2", "k", "C", 20);
    home.directory.tick(499);
    expect(home.take()).toEqual([]);
    home.directory.tick(500);
    // A's lease (to 200) ended while the write waited: nobody to invalidate.
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.writeDone("k", 501);
    // r2 came while the write ran: it takes the written value, no store read (B: M → S).
    expect(home.take()).toEqual(["downgrade k B"]);
    expect(home.granted("r2")).toMatchObject({ value: "v2", leaseMs: LEASE_MS - 1 });
  });

  test("allowWritesFrom(Infinity) holds writes without asking for a wake-up; a finite time lets them go", () => {
    const home = new Home({ writableAtMs: Infinity });
    home.write("w", "k", "A", set("v"), 0);
    expect(home.wakes).toEqual([]);
    home.directory.tick(1e9);
    expect(home.take()).toEqual([]);
    home.directory.allowWritesFrom(300);
    expect(home.directory.writableAtMs).toBe(300);
    home.directory.tick(299);
    expect(home.take()).toEqual([]);
    home.directory.tick(300);
    expect(home.take()).toEqual(["storeWrite k set v"]);
  });
});

describe("store write failures", () => {
  test("a definite failure: the writer gets the error, holders that confirmed are gone, the writer's read lease stays", () => {
    const home = new Home();
    readThrough(home, "r1", "k", "A", "v1", 0);
    readThrough(home, "r2", "k", "B", "v1", 10);
    readThrough(home, "r3", "k", "C", "v1", 10);
    home.take();
    home.write("w", "k", "A", set("v2"), 20);
    expect(home.take()).toEqual(["invalidate k B", "invalidate k C"]);
    home.confirm("k", "B", 21);
    home.confirm("k", "C", 22);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    const error = new SinkronError("UNAVAILABLE", "stale epoch");
    home.directory.storeWriteDone("k", { ok: false, error, ambiguous: false }, 30);
    expect(home.answer("w")).toEqual({ ok: false, error });
    // Rule 3: B and C confirmed, so they are forgotten; A neither confirmed nor ran out.
    expect(home.holders("k")).toEqual({ A: `S until ${LEASE_MS}` });
    // The store is known unchanged: the next read is leased at once.
    expect(readThrough(home, "r4", "k", "D", "v1", 40).leaseMs).toBe(LEASE_MS);
  });

  test("a definite failure after a holder was waited out: that holder stays forgotten (its lease ended)", () => {
    const home = new Home();
    readThrough(home, "r1", "k", "A", "v1", 0);
    home.write("w", "k", "B", set("v2"), 10);
    home.take();
    home.directory.tick(LEASE_MS);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.directory.storeWriteDone("k", { ok: false, error: new SinkronError("UNAVAILABLE", "no"), ambiguous: false }, LEASE_MS + 1);
    expect(home.holders("k")).toEqual({});
  });

  test("a definite failure sets no repair: the next read reads the store at once", () => {
    const home = new Home();
    home.write("w", "k", "A", set("v2"), 0);
    home.take();
    home.directory.storeWriteDone("k", { ok: false, error: new SinkronError("UNAVAILABLE", "refused"), ambiguous: false }, 10);
    // Nothing to remember: no holder, no repair, so the entry goes.
    expect(home.directory.size).toBe(0);
    expect(readThrough(home, "r1", "k", "B", "v1", 20).leaseMs).toBe(LEASE_MS);
  });

  // Home rule 3's exception for writers: the home never invalidates a writer, and forgets it when
  // its write is done even when it grants no new lease — safe only because the writer dropped its
  // own line before the write left (holder rule 4; the model check holds the pair to it).
  test("a write answered without a lease forgets the writer's earlier read lease (holder rule 4 covers it)", () => {
    const home = new Home({ entriesMax: 1 });
    readThrough(home, "r1", "k", "A", "v1", 0);
    // Another key's store read in flight: two entries, past entriesMax.
    home.read("r2", "other", "C", 10);
    home.take();
    home.write("w", "k", "A", set("v2"), 10);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.writeDone("k", 20);
    expect(home.granted("w")).toMatchObject({ state: "M", leaseMs: 0 });
    expect(home.holders("k")).toEqual({});
    home.write("w2", "k", "B", set("v3"), 30);
    expect(home.take()).toEqual(["storeWrite k set v3"]);
  });
});

describe("store writes with an unknown outcome are repaired (home rule 4)", () => {
  const timeout = (): SinkronError => new SinkronError("TIMEOUT", "maybe");

  /** A's write of `value` to k failed ambiguously at 10: it may still land. */
  function afterAmbiguousFailure(value = "late"): Home {
    const home = new Home();
    home.write("w", "k", "A", set(value), 0);
    expect(home.take()).toEqual([`storeWrite k set ${value}`]);
    home.directory.storeWriteDone("k", { ok: false, error: timeout(), ambiguous: true }, 10);
    expect(home.answer("w").ok).toBe(false);
    expect(home.take()).toEqual([]);
    return home;
  }

  test("the next read first writes the same change again, then reads the store, and is leased", () => {
    const home = afterAmbiguousFailure();
    const failed = home.written[0]!;
    home.read("r1", "k", "B", 20);
    // The repair: the very change that failed (the store may apply it twice; the value is the same).
    expect(home.take()).toEqual(["storeWrite k set late"]);
    expect(home.written[1]).toBe(failed);
    expect(home.isAnswered("r1")).toBe(false);
    home.writeDone("k", 25);
    // Repaired: the late write cannot land after this one, so the store's value is final.
    expect(home.take()).toEqual(["storeRead k"]);
    expect(home.isAnswered("r1")).toBe(false);
    home.readDone("k", "late", 30);
    expect(home.granted("r1")).toMatchObject({ value: "late", state: "E", leaseMs: LEASE_MS });
    expect(home.holders("k")).toEqual({ B: `E until ${30 + LEASE_MS}` });
    // Repaired once: the read after reads the store at once.
    expect(readThrough(home, "r2", "k", "C", "late", 40).leaseMs).toBe(LEASE_MS);
  });

  test("reads arriving during the repair share the store read after it", () => {
    const home = afterAmbiguousFailure();
    home.read("r1", "k", "B", 20);
    home.read("r2", "k", "C", 21);
    expect(home.take()).toEqual(["storeWrite k set late"]);
    home.read("r3", "k", "D", 22);
    expect(home.take()).toEqual([]);
    home.writeDone("k", 25);
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", "late", 30);
    const seqs = ["r1", "r2", "r3"].map((name) => home.granted(name).seq);
    expect(new Set(seqs).size).toBe(1);
    expect(home.granted("r3")).toMatchObject({ state: "S", leaseMs: LEASE_MS });
  });

  test("a repair that fails: the reads waiting for it get the error, and the next read repairs again", () => {
    const home = afterAmbiguousFailure();
    home.read("r1", "k", "B", 20);
    home.read("r2", "k", "C", 21);
    expect(home.take()).toEqual(["storeWrite k set late"]);
    const error = new SinkronError("UNAVAILABLE", "store down");
    home.directory.storeWriteDone("k", { ok: false, error, ambiguous: false }, 30);
    expect(home.answer("r1")).toEqual({ ok: false, error });
    expect(home.answer("r2")).toEqual({ ok: false, error });
    // No store read, nothing else; the repair stays, and so does the entry.
    expect(home.take()).toEqual([]);
    expect(home.directory.size).toBe(1);
    home.directory.tick(30 + 10 * LEASE_MS);
    expect(home.directory.size).toBe(1);
    home.read("r3", "k", "B", 40 + 10 * LEASE_MS);
    expect(home.take()).toEqual(["storeWrite k set late"]);
    // An ambiguous failure of the repair keeps it too.
    home.directory.storeWriteDone("k", { ok: false, error: timeout(), ambiguous: true }, 50 + 10 * LEASE_MS);
    expect(home.answer("r3").ok).toBe(false);
    home.read("r4", "k", "B", 60 + 10 * LEASE_MS);
    expect(home.take()).toEqual(["storeWrite k set late"]);
    home.writeDone("k", 70 + 10 * LEASE_MS);
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", "late", 80 + 10 * LEASE_MS);
    expect(home.granted("r4").leaseMs).toBe(LEASE_MS);
  });

  test("a repair that fails fails only the reads in front; a write behind them goes on, and supersedes it", () => {
    const home = afterAmbiguousFailure();
    home.read("r1", "k", "B", 20);
    home.write("w2", "k", "C", set("v2"), 21);
    home.read("r2", "k", "D", 22);
    expect(home.take()).toEqual(["storeWrite k set late"]);
    const error = new SinkronError("UNAVAILABLE", "store down");
    home.directory.storeWriteDone("k", { ok: false, error, ambiguous: false }, 30);
    expect(home.answer("r1")).toEqual({ ok: false, error });
    expect(home.isAnswered("r2")).toBe(false);
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.writeDone("k", 40);
    expect(home.granted("w2")).toMatchObject({ state: "M", leaseMs: LEASE_MS });
    // The write repaired too: the read behind it takes the written value (C: M → S).
    expect(home.take()).toEqual(["downgrade k C"]);
    expect(home.granted("r2")).toMatchObject({ value: "v2", state: "S" });
  });

  test("a later write supersedes the repair: its own store write only, leased, and reads after it read the store at once", () => {
    const home = afterAmbiguousFailure();
    home.write("w2", "k", "B", set("v2"), 20);
    // No repair first: the store applies this home's writes in order, so the late one lands before this one or never.
    expect(home.take()).toEqual(["storeWrite k set v2"]);
    home.writeDone("k", 30);
    expect(home.granted("w2")).toMatchObject({ value: "v2", state: "M", leaseMs: LEASE_MS });
    expect(home.holders("k")).toEqual({ B: `M until ${30 + LEASE_MS}` });
    home.read("r1", "k", "C", 40);
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", "v2", 45);
    expect(home.granted("r1")).toMatchObject({ value: "v2", state: "S", leaseMs: LEASE_MS });
  });

  test("a later write that fails definitely leaves the repair in place; one that fails ambiguously replaces it", () => {
    const home = afterAmbiguousFailure("first");
    home.write("w2", "k", "B", set("second"), 20);
    expect(home.take()).toEqual(["storeWrite k set second"]);
    home.directory.storeWriteDone("k", { ok: false, error: new SinkronError("UNAVAILABLE", "refused"), ambiguous: false }, 30);
    home.read("r1", "k", "C", 40);
    expect(home.take()).toEqual(["storeWrite k set first"]);
    home.directory.storeWriteDone("k", { ok: false, error: timeout(), ambiguous: true }, 50);
    home.write("w3", "k", "B", set("third"), 60);
    expect(home.take()).toEqual(["storeWrite k set third"]);
    home.directory.storeWriteDone("k", { ok: false, error: timeout(), ambiguous: true }, 70);
    home.read("r2", "k", "C", 80);
    expect(home.take()).toEqual(["storeWrite k set third"]);
  });

  test("a delete with an unknown outcome is repaired as a delete", () => {
    const home = new Home();
    home.write("d", "k", "A", { kind: "delete" }, 0);
    home.directory.storeWriteDone("k", { ok: false, error: timeout(), ambiguous: true }, 10);
    home.read("r1", "k", "B", 20);
    expect(home.take()).toEqual(["storeWrite k delete", "storeWrite k delete"]);
    home.directory.storeWriteDone("k", { ok: true, existed: false }, 25);
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", null, 30);
    expect(home.granted("r1")).toMatchObject({ found: false, leaseMs: LEASE_MS });
  });

  test("a merged run that failed ambiguously is repaired with the value of its last set", () => {
    const home = new Home();
    readThrough(home, "rh", "k", "H", "v0", 0);
    home.write("w0", "k", "Z", set("z"), 1);
    home.write("wa", "k", "A", set("a"), 2);
    home.write("wb", "k", "B", set("b"), 3);
    home.confirm("k", "H", 4);
    home.writeDone("k", 5);
    home.confirm("k", "Z", 6);
    expect(home.take()).toEqual(["invalidate k H", "storeWrite k set z", "invalidate k Z", "storeWrite k set b"]);
    home.directory.storeWriteDone("k", { ok: false, error: timeout(), ambiguous: true }, 7);
    home.read("r1", "k", "C", 8);
    expect(home.take()).toEqual(["storeWrite k set b"]);
  });

  test("the entry stays while a repair is pending, however long; it goes once repaired and its leases ended", () => {
    const home = afterAmbiguousFailure();
    expect(home.directory.size).toBe(1);
    expect(home.holders("k")).toEqual({});
    home.directory.tick(100 * LEASE_MS);
    expect(home.directory.size).toBe(1);
    home.read("r1", "k", "B", 100 * LEASE_MS);
    expect(home.take()).toEqual(["storeWrite k set late"]);
    home.writeDone("k", 100 * LEASE_MS + 1);
    home.readDone("k", "late", 100 * LEASE_MS + 2);
    home.directory.tick(101 * LEASE_MS + 2);
    expect(home.directory.size).toBe(0);
  });

  test("close() during a repair refuses the reads waiting for it; the repair's answer is ignored", () => {
    const home = afterAmbiguousFailure();
    home.read("r1", "k", "B", 20);
    expect(home.take()).toEqual(["storeWrite k set late"]);
    const error = new SinkronError("UNAVAILABLE", "the ring changed");
    home.directory.close(error);
    expect(home.answer("r1")).toEqual({ ok: false, error });
    home.writeDone("k", 30);
    expect(home.take()).toEqual([]);
    expect(home.answer("r1")).toEqual({ ok: false, error });
  });

});

describe("sets waiting next to each other (home rule 3: one store write of the last value)", () => {
  /** A write of `k` by Z that waits on holder H (lease to 100), so that what comes next queues. */
  function blockedHome(): Home {
    const home = new Home();
    readThrough(home, "rh", "k", "H", "v0", 0);
    home.write("w0", "k", "Z", set("z"), 1);
    expect(home.take()).toEqual(["invalidate k H"]);
    return home;
  }

  test("they go as one store write of the last value; each writer is answered, only the last gets a line", () => {
    const home = blockedHome();
    home.write("wa", "k", "A", set("a"), 2);
    home.write("wb", "k", "B", set("b"), 3);
    home.write("wc", "k", "C", set("c"), 4);
    home.confirm("k", "H", 5);
    home.writeDone("k", 6);
    // Z's write went alone (it was active when the others arrived); then one write for A, B, C.
    expect(home.take()).toEqual(["storeWrite k set z", "invalidate k Z"]);
    expect(home.isAnswered("wa")).toBe(false);
    home.confirm("k", "Z", 7);
    expect(home.take()).toEqual(["storeWrite k set c"]);
    home.writeDone("k", 8);
    const [a, b, c] = ["wa", "wb", "wc"].map((name) => home.granted(name));
    expect(a).toMatchObject({ value: "a", state: "M", leaseMs: 0 });
    expect(b).toMatchObject({ value: "b", state: "M", leaseMs: 0 });
    expect(c).toMatchObject({ value: "c", state: "M", leaseMs: LEASE_MS });
    expect([a!.seq, b!.seq, c!.seq]).toEqual([a!.seq, a!.seq + 1, a!.seq + 2]);
    expect(home.holders("k")).toEqual({ C: `M until ${8 + LEASE_MS}` });
  });

  test("the writers of a merged run are not invalidated; every other holder is", () => {
    const home = new Home();
    readThrough(home, "r1", "k", "A", "v0", 0);
    readThrough(home, "r2", "k", "B", "v0", 0);
    readThrough(home, "r3", "k", "C", "v0", 0);
    home.read("r4", "k", "D", 1);
    home.take();
    // D's read is in flight: the two sets queue behind it, next to each other.
    home.write("wa", "k", "A", set("a"), 2);
    home.write("wb", "k", "B", set("b"), 3);
    home.readDone("k", "v0", 4);
    expect(home.take()).toEqual(["invalidate k C", "invalidate k D"]);
  });

  test("a delete is not merged, and ends a run of sets", () => {
    const home = blockedHome();
    home.write("wa", "k", "A", set("a"), 2);
    home.write("d", "k", "B", { kind: "delete" }, 3);
    home.write("wc", "k", "C", set("c"), 4);
    home.write("d2", "k", "D", { kind: "delete" }, 5);
    home.write("d3", "k", "E", { kind: "delete" }, 6);
    home.confirm("k", "H", 7);
    home.writeDone("k", 8);
    const step = (nowMs: number): string[] => {
      // Each write's invalidation of the previous writer is confirmed at once.
      for (const effect of home.effects.filter((e) => e.startsWith("invalidate "))) home.confirm("k", effect.split(" ")[2]!, nowMs);
      const effects = home.take();
      home.directory.storeWriteDone("k", { ok: true, existed: true }, nowMs);
      return effects;
    };
    const writes: string[] = [];
    for (let nowMs = 9; nowMs < 20; nowMs++) writes.push(...step(nowMs).filter((e) => e.startsWith("storeWrite")));
    expect(writes).toEqual(["storeWrite k set z", "storeWrite k set a", "storeWrite k delete", "storeWrite k set c", "storeWrite k delete", "storeWrite k delete"]);
  });

  test("a failed merged write fails every writer of the run", () => {
    const home = blockedHome();
    home.write("wa", "k", "A", set("a"), 2);
    home.write("wb", "k", "B", set("b"), 3);
    home.confirm("k", "H", 4);
    home.writeDone("k", 5);
    home.confirm("k", "Z", 6);
    home.take();
    const error = new SinkronError("TIMEOUT", "maybe");
    home.directory.storeWriteDone("k", { ok: false, error, ambiguous: true }, 7);
    expect(home.answer("wa")).toEqual({ ok: false, error });
    expect(home.answer("wb")).toEqual({ ok: false, error });
  });

  test("at most 1024 sets go as one store write (WRITES_MERGED_MAX); the rest in the next", () => {
    const home = blockedHome();
    for (let i = 1; i <= 1_025; i++) home.write(`w${i}`, "k", `N${i}`, set(`s${i}`), 2);
    home.confirm("k", "H", 3);
    home.writeDone("k", 4);
    home.confirm("k", "Z", 5);
    expect(home.take().filter((e) => e.startsWith("storeWrite"))).toEqual(["storeWrite k set z", "storeWrite k set s1024"]);
    home.writeDone("k", 6);
    expect(home.granted("w1024").leaseMs).toBe(LEASE_MS);
    expect(home.isAnswered("w1025")).toBe(false);
    home.confirm("k", "N1024", 7);
    expect(home.take()).toEqual(["invalidate k N1024", "storeWrite k set s1025"]);
  });
});

describe("reads held back (holdReadsUntil: the store lost its state)", () => {
  test("reads wait until the given time, with a wake-up asked for it; Infinity asks none", () => {
    const home = new Home();
    home.directory.holdReadsUntil(Infinity);
    home.read("r1", "k", "A", 0);
    expect(home.take()).toEqual([]);
    expect(home.wakes).toEqual([]);
    home.directory.holdReadsUntil(300);
    home.directory.tick(299);
    expect(home.take()).toEqual([]);
    expect(home.wakes).toEqual([300]);
    home.read("r2", "k", "B", 299);
    home.directory.tick(300);
    // Both reads waited next to each other: one store read.
    expect(home.take()).toEqual(["storeRead k"]);
    home.readDone("k", "v", 301);
    expect(home.granted("r1").seq).toBe(home.granted("r2").seq);
  });
});

describe("bounds and lifetime", () => {
  test("past entriesMax, reads are answered without a lease and register nobody", () => {
    const home = new Home({ entriesMax: 1 });
    readThrough(home, "r1", "a", "A", "x", 0);
    const grant = readThrough(home, "r2", "b", "B", "y", 10);
    expect(grant).toMatchObject({ value: "y", leaseMs: 0 });
    expect(home.holders("b")).toEqual({});
    // The unleased key's entry went with its last operation: back at the bound.
    expect(home.directory.size).toBe(1);
    // The entry that was there keeps working with leases.
    expect(readThrough(home, "r3", "a", "C", "x", 20).leaseMs).toBe(LEASE_MS);
  });

  test("entries go when their last lease ends (and no sooner)", () => {
    const home = new Home();
    readThrough(home, "r1", "a", "A", "x", 0);
    readThrough(home, "r2", "b", "B", "y", 50);
    expect(home.directory.size).toBe(2);
    home.directory.tick(LEASE_MS - 1);
    expect(home.directory.size).toBe(2);
    home.directory.tick(LEASE_MS);
    expect(home.directory.size).toBe(1);
    expect(home.holders("a")).toEqual({});
    home.directory.tick(50 + LEASE_MS);
    expect(home.directory.size).toBe(0);
  });

  test("seq strictly increases from seqStart, across keys, reads and writes", () => {
    const home = new Home({ seqStart: 7_000 });
    const seqs = [
      readThrough(home, "r1", "a", "A", "x", 0).seq,
      readThrough(home, "r2", "b", "A", "x", 1).seq,
      readThrough(home, "r3", "a", "B", "x", 2).seq,
    ];
    home.write("w", "b", "C", set("z"), 3);
    home.confirm("b", "A", 4);
    home.writeDone("b", 5);
    seqs.push(home.granted("w").seq);
    expect(seqs).toEqual([7_001, 7_002, 7_003, 7_004]);
  });

  test("close() refuses what is active and queued, and every later call; late store answers are ignored", () => {
    const home = new Home();
    readThrough(home, "r0", "k", "A", "v", 0);
    home.write("w", "k", "B", set("v2"), 1);
    home.read("r1", "k", "C", 2);
    home.read("r2", "other", "C", 2);
    home.take();
    const error = new SinkronError("UNAVAILABLE", "the ring changed");
    home.directory.close(error);
    for (const name of ["w", "r1", "r2"]) expect(home.answer(name)).toEqual({ ok: false, error });
    expect(home.directory.size).toBe(0);
    home.read("r3", "k", "D", 3);
    home.write("w2", "k", "D", set("x"), 3);
    expect(home.answer("r3")).toEqual({ ok: false, error });
    expect(home.answer("w2")).toEqual({ ok: false, error });
    home.readDone("other", "y", 4);
    home.confirm("k", "A", 4);
    home.directory.tick(1_000);
    expect(home.take()).toEqual([]);
    expect(home.isAnswered("r0")).toBe(true);
  });
});

describe("wake: the timer's cheap path", () => {
  test("moves on only the keys waiting on time; sweeping expired entries is tick's job", () => {
    const home = new Home();
    readThrough(home, "r1", "a", "A", "v1", 0);
    readThrough(home, "r2", "b", "B", "x", 0);
    home.write("w", "a", "C", set("v2"), 10);
    expect(home.take()).toEqual(["invalidate a A"]);
    // A never answers: at the end of its lease the write goes on; b's entry stays until a tick.
    home.directory.wake(LEASE_MS);
    expect(home.take()).toEqual(["storeWrite a set v2"]);
    expect(home.directory.size).toBe(2);
    home.directory.tick(LEASE_MS);
    expect(home.holders("b")).toEqual({});
  });

  test("keys held back by allowWritesFrom(Infinity) move once writes are allowed and wake runs", () => {
    const home = new Home({ writableAtMs: Infinity });
    home.write("w", "k", "A", set("v"), 0);
    home.directory.wake(1e9);
    expect(home.take()).toEqual([]);
    home.directory.allowWritesFrom(50);
    home.directory.wake(50);
    expect(home.take()).toEqual(["storeWrite k set v"]);
  });
});
