// `sinkron repl [host:port ...] [--token T] [--raw] [--timeout ms]`: the netcat-style debug
// REPL. It connects with the client library (so it pipelines, times out and fails over like
// any client), then runs interactively or, with --raw, as a line-in/JSON-out filter.
import { connect, type SinkronClient } from "../client/index.ts";
import { durationMs, flagOn, formatHelp, parseOptions, text, type OptionSpec } from "./options.ts";
import { History, historyPath } from "./repl/history.ts";
import { runInteractive } from "./repl/interactive.ts";
import { runRaw } from "./repl/raw.ts";

export const REPL_USAGE = "usage: sinkron repl [host:port ...] [--token T] [--raw] [--timeout 5s]";
const DEFAULT_NODE = "127.0.0.1:7001";
const DEFAULT_TIMEOUT_MS = 5_000;

const opt = <T>(spec: OptionSpec<T>): OptionSpec<T> => spec;

export const REPL_OPTIONS = {
  token: opt({ flag: "token", env: "SINKRON_TOKEN", doc: "shared secret sent in HELLO (nodes started with --token)", parse: text }),
  raw: opt({ flag: "raw", env: null, doc: "read one command per line from stdin, print one JSON line per response", isSwitch: true, parse: flagOn }),
  timeoutMs: opt({ flag: "timeout", env: null, doc: "deadline of each command, and of connecting", defaultText: "5s", parse: durationMs }),
};

export interface ReplIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
  error: NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

const processIo = (): ReplIo => ({ input: process.stdin, output: process.stdout, error: process.stderr, env: process.env });

/** Returns the exit code: 0 done, 1 connection failed (or, raw, a command got UNAVAILABLE). */
export async function runRepl(argv: string[], io: ReplIo = processIo()): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.output.write(formatHelp(`${REPL_USAGE}\n\nNodes default to ${DEFAULT_NODE}; the first reachable one is used, the others are failovers.`, REPL_OPTIONS));
    return 0;
  }
  const { values, positional } = parseOptions(REPL_OPTIONS, argv, io.env);
  const timeoutMs = values.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let client: SinkronClient;
  try {
    client = await connect({
      nodes: positional.length > 0 ? positional : [DEFAULT_NODE],
      token: values.token,
      name: "sinkron-repl",
      nodeOrder: "in-order",
      requestTimeoutMs: Math.max(1, timeoutMs),
      connectTimeoutMs: Math.max(1, timeoutMs),
    });
  } catch (error) {
    io.error.write(`sinkron repl: ${(error as Error).message}\n`);
    return 1;
  }
  try {
    if (values.raw === true) return await runRaw(client, io.input, io.output);
    return await runInteractive(client, io, new History(historyPath(io.env)));
  } finally {
    await client.close();
  }
}
