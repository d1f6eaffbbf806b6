// How cache tests take a call's outcome: the SinkronError a call must reject with, and
// CACHE.SET / CACHE.GET recorded into a history for the linearizability checker, where a
// failed write may or may not have happened and a failed read happened not at all.
import { expect } from "bun:test";
import { SinkronError, type CacheEntry, type SinkronClient } from "../../src/client/index.ts";
import type { KvInput, KvOutput, Operation } from "../checkers/linearizability.ts";

export type KvHistory = Operation<KvInput, KvOutput>[];

/** The SinkronError `promise` rejects with; fails the test when it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<SinkronError> {
  const outcome = await promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected a rejection, got ${JSON.stringify(outcome.value)}`);
  expect(outcome.error).toBeInstanceOf(SinkronError);
  return outcome.error as SinkronError;
}

/** CACHE.SET `value` through `client` into `history`; a set that failed is recorded as never returning (it may have happened). */
export async function recordCacheSet(history: KvHistory, client: SinkronClient, key: string, value: string): Promise<void> {
  const callMs = performance.now();
  try {
    await client.cache.set({ key, value });
    history.push({ key, input: { kind: "set", value }, output: null, callMs, returnMs: performance.now() });
  } catch (error) {
    if (!(error instanceof SinkronError)) throw error;
    history.push({ key, input: { kind: "set", value }, output: null, callMs, returnMs: Infinity });
  }
}

/**
 * CACHE.GET of `key` through `client` into `history` (NOT_FOUND reads null). Says where the
 * value came from, "not-found", or "failed" for another error, which is not recorded: a failed
 * read did nothing.
 */
export async function recordCacheGet(history: KvHistory, client: SinkronClient, key: string): Promise<CacheEntry["source"] | "not-found" | "failed"> {
  const callMs = performance.now();
  try {
    const { value, source } = await client.cache.get({ key });
    history.push({ key, input: { kind: "get" }, output: { value: value as string }, callMs, returnMs: performance.now() });
    return source;
  } catch (error) {
    if (!(error instanceof SinkronError)) throw error;
    if (error.code !== "NOT_FOUND") return "failed";
    history.push({ key, input: { kind: "get" }, output: { value: null }, callMs, returnMs: performance.now() });
    return "not-found";
  }
}
