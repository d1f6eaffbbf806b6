// Linearizability of one key-value register, for the histories the cache model produces. The
// general checker (test/checkers/linearizability.ts) tries every order of concurrent operations;
// a home paused with dozens of GETs queued makes that 2^dozens. This one is the same Wing–Gong
// search with Lowe's memo plus one exact reduction: an operation that can never change the state
// (a GET, or a DEL that answered "did not exist") and fits the current state is linearized at
// once, without branching. That loses nothing: it is callable now, so every operation that must
// precede it already does, and moving it to the front of any valid completion keeps that
// completion valid (wherever it stood, it changed nothing). Not so a DEL of unknown outcome: a
// no-op on an absent key now, it may be the write that deletes a value later. The search then
// branches over writes only — earliest return first, so a write of unknown outcome (open for
// ever) is tried last — and gives a branch up as soon as a GET waits for a value whose (unique)
// SET is behind it while the state is something else: that value cannot come back.
// Agreement with the general checker is tested in test/cache/model.test.ts.
import type { KvInput, KvOutput, Operation } from "../../checkers/linearizability.ts";

export type RegisterVerdict = { ok: true } | { ok: false; explored: number } | { ok: "unknown"; explored: number };

type State = string | null;

/** One key's operations; see Operation in test/checkers (returnMs Infinity: outcome unknown). */
export function checkRegister(ops: readonly Operation<KvInput, KvOutput>[], exploredMax = 2_000_000): RegisterVerdict {
  const n = ops.length;
  const linearized = new Uint8Array(n);
  const memo = new Set<string>();
  let explored = 0;
  let remaining = n;
  // Operations by call time: the callable ones are a prefix of the unlinearized ones.
  const byCall = [...ops.keys()].sort((a, b) => ops[a]!.callMs - ops[b]!.callMs);

  /** The state after `op` from `state`, or undefined if `op` could not return what it did there. */
  const step = (op: Operation<KvInput, KvOutput>, state: State): State | undefined => {
    const known = op.returnMs !== Infinity;
    switch (op.input.kind) {
      case "set":
        return op.input.value;
      case "del":
        if (known && (op.output as { deleted: boolean }).deleted !== (state !== null)) return undefined;
        return null;
      case "get":
        if (known && (op.output as { value: string | null }).value !== state) return undefined;
        return state;
    }
  };

  /** Unlinearized operations called no later than the earliest unlinearized return. */
  const callable = (): number[] => {
    let firstReturnMs = Infinity;
    for (let i = 0; i < n; i++) if (linearized[i] === 0 && ops[i]!.returnMs < firstReturnMs) firstReturnMs = ops[i]!.returnMs;
    const out: number[] = [];
    for (const i of byCall) {
      if (ops[i]!.callMs > firstReturnMs) break;
      if (linearized[i] === 0) out.push(i);
    }
    return out;
  };

  // Each value's SET (values are unique); a GET of a value with no SET can never be linearized.
  const setOf = new Map<string, number>();
  ops.forEach((op, i) => {
    if (op.input.kind === "set") setOf.set(op.input.value, i);
  });
  const gets = [...ops.keys()].filter((i) => ops[i]!.input.kind === "get" && ops[i]!.returnMs !== Infinity);

  /** Some GET waits for a value that is gone for good: nothing after this can be linearized. */
  const isDead = (state: State): boolean => {
    for (const i of gets) {
      if (linearized[i] === 1) continue;
      const value = (ops[i]!.output as { value: string | null }).value;
      if (value === null || value === state) continue;
      const set = setOf.get(value);
      if (set === undefined || linearized[set] === 1) return true;
    }
    return false;
  };

  /** A GET, or a DEL that answered it deleted nothing: wherever it may stand, it changes nothing. */
  const isPure = (op: Operation<KvInput, KvOutput>): boolean =>
    op.returnMs !== Infinity && (op.input.kind === "get" || (op.input.kind === "del" && (op.output as { deleted: boolean }).deleted === false));

  const search = (state: State): boolean | "unknown" => {
    if (++explored > exploredMax) return "unknown";
    // The reduction: take every state-preserving operation that is callable, until none is.
    const taken: number[] = [];
    for (let found = true; found; ) {
      found = false;
      for (const i of callable()) {
        if (!isPure(ops[i]!) || step(ops[i]!, state) !== state) continue;
        linearized[i] = 1;
        remaining -= 1;
        taken.push(i);
        found = true;
      }
    }
    const undo = (): void => {
      for (const i of taken) linearized[i] = 0;
      remaining += taken.length;
    };
    if (remaining === 0) return true;
    if (isDead(state)) {
      undo();
      return false;
    }
    const key = `${state === null ? "\u0000" : "v" + state}|${String.fromCharCode(...packBits(linearized))}`;
    if (memo.has(key)) {
      undo();
      return false;
    }
    memo.add(key);
    // Earliest return first: the write that must happen soonest; open ones (unknown outcome) last.
    for (const i of callable().sort((a, b) => ops[a]!.returnMs - ops[b]!.returnMs || a - b)) {
      if (isPure(ops[i]!)) continue;
      const next = step(ops[i]!, state);
      if (next === undefined) continue;
      linearized[i] = 1;
      remaining -= 1;
      const result = search(next);
      linearized[i] = 0;
      remaining += 1;
      if (result !== false) {
        undo();
        return result;
      }
    }
    undo();
    return false;
  };

  const result = search(null);
  return result === true ? { ok: true } : result === false ? { ok: false, explored } : { ok: "unknown", explored };
}

function packBits(bits: Uint8Array): number[] {
  const words: number[] = [];
  for (let i = 0; i < bits.length; i += 15) {
    let word = 0;
    for (let j = 0; j < 15 && i + j < bits.length; j++) word |= bits[i + j]! << j;
    words.push(word + 1);
  }
  return words;
}
