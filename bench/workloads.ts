// What a benchmark sends: a workload yields the next request `[command, args]` and may check
// an OK answer. The runner owns ids, timing and I/O, so adding `kv`, `lock`, `queue`… is one
// entry in WORKLOADS and nothing else.
import type { Args } from "../src/protocol/envelope.ts";

export type BenchRequest = readonly [command: string, args: Args];

export interface Workload {
  readonly name: string;
  /**
   * The next request. Returning the very same tuple object as before lets the runner reuse
   * its encoded bytes (as redis-benchmark reuses one formatted command), so a constant
   * workload costs no encoding per request.
   */
  next(): BenchRequest;
  /** True when an OK answer's value is what the request should get; a false counts as UNEXPECTED_VALUE. */
  check?(request: BenchRequest, value: unknown): boolean;
}

const PING_REQUEST: BenchRequest = Object.freeze(["PING", {}] as const);

export function pingWorkload(): Workload {
  return {
    name: "ping",
    next: () => PING_REQUEST,
    check: (_request, value) => value === "PONG",
  };
}

/** Workloads by the name given on the command line. */
export const WORKLOADS: Readonly<Record<string, () => Workload>> = {
  ping: pingWorkload,
};
