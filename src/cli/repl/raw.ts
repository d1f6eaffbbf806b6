// `sinkron repl --raw`: one command per input line (the interactive syntax), one JSON line
// per response, in input order, for scripts and pipes. Commands are sent as they are read
// (pipelined), with at most RAW_INFLIGHT_MAX unanswered so a huge input stays bounded.
import { createInterface } from "node:readline";
import type { SinkronClient } from "../../client/index.ts";
import { formatRawLine, type Outcome } from "./format.ts";
import { send } from "./session.ts";
import { parseInput } from "./syntax.ts";

export const RAW_INFLIGHT_MAX = 1024;

type Entry = { id: number; done: Promise<void>; outcome: Outcome | null };

/** Exit code: 0 when every command was answered by a node; 1 when one got UNAVAILABLE. */
export async function runRaw(client: SinkronClient, input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<number> {
  const lines = createInterface({ input, terminal: false, crlfDelay: Infinity });
  const queue: Entry[] = [];
  let nextId = 1;
  let isAnyUnavailable = false;

  const enqueue = (outcome: Outcome | Promise<Outcome>) => {
    const entry: Entry = { id: nextId++, done: Promise.resolve(), outcome: null };
    entry.done = Promise.resolve(outcome).then((o) => {
      entry.outcome = o;
    });
    queue.push(entry);
  };
  const printReady = () => {
    let printed = 0;
    while (printed < queue.length && queue[printed]!.outcome !== null) {
      const entry = queue[printed++]!;
      if (entry.outcome!.status === "UNAVAILABLE") isAnyUnavailable = true;
      output.write(`${formatRawLine(entry.id, entry.outcome!)}\n`);
    }
    queue.splice(0, printed);
  };

  for await (const line of lines) {
    const parsed = parseInput(line);
    if (parsed.kind === "exit") break;
    switch (parsed.kind) {
      case "empty":
        continue;
      case "help":
        enqueue({ status: "BAD_REQUEST", value: { message: "help is for the interactive REPL (run without --raw)" } });
        break;
      case "error":
        enqueue({ status: "BAD_REQUEST", value: { message: parsed.message } });
        break;
      case "commands":
        for (const command of parsed.commands) enqueue(send(client, command));
        break;
    }
    printReady();
    while (queue.length >= RAW_INFLIGHT_MAX) {
      await queue[0]!.done;
      printReady();
    }
  }
  lines.close();
  for (const entry of queue) await entry.done;
  printReady();
  return isAnyUnavailable ? 1 : 0;
}
