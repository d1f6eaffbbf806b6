// A linearizability checker in the Wing–Gong style with Lowe's memoization, as Porcupine
// does it: depth-first search over the order in which concurrent operations could have taken
// effect, caching (set of linearized ops, model state) pairs already explored. Histories are
// split per key first (P-compositionality), which keeps the search small.
//
// An operation whose outcome is unknown (timeout, connection lost) is given an infinite
// return time: it may take effect anywhere after its call, or (equivalently, by being placed
// last) not at all.

export interface Operation<I, O> {
  /** Which independent object (key) the operation touches. */
  key: string;
  input: I;
  /** The observed output; ignored by the model when `returnMs` is Infinity. */
  output: O;
  callMs: number;
  returnMs: number;
}

export interface Model<S, I, O> {
  init(): S;
  /** Applies `input` to `state`; says whether `output` is what it would return. */
  step(state: S, input: I, output: O, outcomeKnown: boolean): { ok: boolean; state: S };
  /** A string that identifies a state, for the memo cache. */
  hash(state: S): string;
}

export type CheckResult = { ok: true } | { ok: false; key: string; operations: number; explored: number } | { ok: "unknown"; key: string; explored: number };

interface Event {
  op: number;
  isCall: boolean;
  timeMs: number;
  prev: Event | null;
  next: Event | null;
  /** For a call: its return event. */
  match: Event | null;
}

export function checkLinearizable<S, I, O>(model: Model<S, I, O>, history: Operation<I, O>[], exploredMax = 5_000_000): CheckResult {
  const byKey = new Map<string, Operation<I, O>[]>();
  for (const op of history) {
    if (!(op.callMs <= op.returnMs)) throw new Error(`operation returns before its call: ${JSON.stringify(op)}`);
    let ops = byKey.get(op.key);
    if (!ops) byKey.set(op.key, (ops = []));
    ops.push(op);
  }
  for (const [key, ops] of byKey) {
    const result = checkOne(model, ops, key, exploredMax);
    if (result.ok !== true) return result;
  }
  return { ok: true };
}

function checkOne<S, I, O>(model: Model<S, I, O>, ops: Operation<I, O>[], key: string, exploredMax: number): CheckResult {
  // Build the event list: calls and returns sorted by time; at equal times calls come first
  // (an operation that returns at the instant another is called may be concurrent with it).
  const events: Event[] = [];
  ops.forEach((op, i) => {
    const call: Event = { op: i, isCall: true, timeMs: op.callMs, prev: null, next: null, match: null };
    const ret: Event = { op: i, isCall: false, timeMs: op.returnMs, prev: null, next: null, match: null };
    call.match = ret;
    events.push(call, ret);
  });
  events.sort((a, b) => a.timeMs - b.timeMs || (a.isCall === b.isCall ? 0 : a.isCall ? -1 : 1));
  const head: Event = { op: -1, isCall: false, timeMs: -Infinity, prev: null, next: null, match: null };
  let last = head;
  for (const e of events) {
    last.next = e;
    e.prev = last;
    last = e;
  }

  const linearized = new Uint8Array(ops.length);
  const cache = new Map<string, Set<string>>();
  const stack: { event: Event; state: S }[] = [];
  let state = model.init();
  let entry = head.next;
  let explored = 0;

  const lift = (call: Event) => {
    call.prev!.next = call.next;
    if (call.next) call.next.prev = call.prev;
    const ret = call.match!;
    ret.prev!.next = ret.next;
    if (ret.next) ret.next.prev = ret.prev;
  };
  const unlift = (call: Event) => {
    const ret = call.match!;
    ret.prev!.next = ret;
    if (ret.next) ret.next.prev = ret;
    call.prev!.next = call;
    if (call.next) call.next.prev = call;
  };

  while (head.next !== null) {
    if (++explored > exploredMax) return { ok: "unknown", key, explored };
    if (entry === null) throw new Error("checker walked off the event list");
    if (entry.isCall) {
      const op = ops[entry.op]!;
      const known = op.returnMs !== Infinity;
      const result = model.step(state, op.input, op.output, known);
      if (result.ok) {
        linearized[entry.op] = 1;
        const bits = linearizedKey(linearized);
        const stateHash = model.hash(result.state);
        let seen = cache.get(bits);
        if (!seen) cache.set(bits, (seen = new Set()));
        if (!seen.has(stateHash)) {
          seen.add(stateHash);
          stack.push({ event: entry, state });
          state = result.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized[entry.op] = 0;
      }
      entry = entry.next;
    } else {
      // A return whose operation is not linearized yet: every order tried so far fails.
      const top = stack.pop();
      if (top === undefined) return { ok: false, key, operations: ops.length, explored };
      state = top.state;
      linearized[top.event.op] = 0;
      unlift(top.event);
      entry = top.event.next;
    }
  }
  return { ok: true };
}

function linearizedKey(bits: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bits.length; i += 16) {
    let word = 0;
    for (let j = 0; j < 16 && i + j < bits.length; j++) word |= bits[i + j]! << j;
    out += String.fromCharCode(word);
  }
  return out;
}

/** A key-value register: get returns the last value set (or null when deleted/never set). */
export type KvInput = { kind: "set"; value: string } | { kind: "get" } | { kind: "del" };
export type KvOutput = { value: string | null } | { deleted: boolean } | null;

export const kvModel: Model<string | null, KvInput, KvOutput> = {
  init: () => null,
  step(state, input, output, known) {
    switch (input.kind) {
      case "set":
        return { ok: true, state: input.value };
      case "del":
        if (!known) return { ok: true, state: null };
        return { ok: (output as { deleted: boolean }).deleted === (state !== null), state: null };
      case "get":
        if (!known) return { ok: true, state };
        return { ok: (output as { value: string | null }).value === state, state };
    }
  },
  hash: (state) => (state === null ? "\u0000" : "v" + state),
};
