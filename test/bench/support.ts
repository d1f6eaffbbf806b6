// What the bench tests share: an io for runBench that keeps everything a run writes, so a test
// can assert on the report and the progress lines.
import type { BenchIo } from "../../bench/cli.ts";

/** stderr is not a terminal, so progress arrives as plain lines the tests can match. */
export function captureIo(signal?: AbortSignal): BenchIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, stdout: { write: (text: string) => out.push(text) }, stderr: { write: (text: string) => err.push(text), isTTY: false }, signal };
}
