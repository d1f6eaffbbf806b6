// The checker must accept every linearizable history and refuse the ones that are not, or a
// passing cluster test proves nothing.
import { expect, test } from "bun:test";
import { checkLinearizable, kvModel, type KvInput, type KvOutput, type Operation } from "./linearizability.ts";

type Op = Operation<KvInput, KvOutput>;
const set = (value: string, callMs: number, returnMs: number, key = "k"): Op => ({ key, input: { kind: "set", value }, output: null, callMs, returnMs });
const get = (value: string | null, callMs: number, returnMs: number, key = "k"): Op => ({ key, input: { kind: "get" }, output: { value }, callMs, returnMs });
const del = (deleted: boolean, callMs: number, returnMs: number, key = "k"): Op => ({ key, input: { kind: "del" }, output: { deleted }, callMs, returnMs });

test("sequential histories", () => {
  expect(checkLinearizable(kvModel, [set("a", 0, 1), get("a", 2, 3), del(true, 4, 5), get(null, 6, 7)]).ok).toBe(true);
  expect(checkLinearizable(kvModel, [set("a", 0, 1), get("b", 2, 3)]).ok).toBe(false);
  expect(checkLinearizable(kvModel, [set("a", 0, 1), get(null, 2, 3)]).ok).toBe(false);
  expect(checkLinearizable(kvModel, [del(true, 0, 1)]).ok).toBe(false);
});

test("a read concurrent with a write may see either value", () => {
  expect(checkLinearizable(kvModel, [set("a", 0, 1), set("b", 2, 10), get("a", 3, 4)]).ok).toBe(true);
  expect(checkLinearizable(kvModel, [set("a", 0, 1), set("b", 2, 10), get("b", 3, 4)]).ok).toBe(true);
});

test("a stale read after a newer one returned is refused (no going back in time)", () => {
  const history = [set("a", 0, 1), set("b", 2, 10), get("b", 3, 4), get("a", 5, 6)];
  expect(checkLinearizable(kvModel, history).ok).toBe(false);
});

test("a read after an acknowledged write must see it", () => {
  expect(checkLinearizable(kvModel, [set("a", 0, 1), set("b", 2, 3), get("a", 4, 5)]).ok).toBe(false);
});

test("an unknown-outcome write may or may not have happened", () => {
  expect(checkLinearizable(kvModel, [set("a", 0, 1), set("b", 2, Infinity), get("a", 3, 4)]).ok).toBe(true);
  expect(checkLinearizable(kvModel, [set("a", 0, 1), set("b", 2, Infinity), get("b", 3, 4)]).ok).toBe(true);
  // ...but once seen, it cannot be unseen.
  expect(checkLinearizable(kvModel, [set("a", 0, 1), set("b", 2, Infinity), get("b", 3, 4), get("a", 5, 6)]).ok).toBe(false);
});

test("keys are checked independently and a failure names its key", () => {
  const result = checkLinearizable(kvModel, [set("a", 0, 1, "x"), get("a", 2, 3, "x"), set("a", 0, 1, "y"), get("z", 2, 3, "y")]);
  expect(result).toMatchObject({ ok: false, key: "y" });
});

test("a long history with overlapping writes and reads is accepted, and one stale read refused", () => {
  const history: Op[] = [set("v0", 0, 1)];
  let previous = "v0";
  // Each write spans [t, t+6]; a read at t+4 overlaps it and may see the old or the new value.
  for (let t = 8; t < 4000; t += 8) {
    const value = `v${t}`;
    history.push(set(value, t, t + 6));
    history.push(get((t / 8) % 2 === 0 ? value : previous, t + 4, t + 5));
    previous = value;
  }
  expect(checkLinearizable(kvModel, history).ok).toBe(true);
  history.push(get("v8", 5000, 5001));
  expect(checkLinearizable(kvModel, history).ok).toBe(false);
});
