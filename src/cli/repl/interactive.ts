// The interactive REPL: a prompt naming the node, commands in the REPL syntax (several at
// once with `;`), readable answers, help, history and tab completion. Works on a terminal
// and on a pipe (readline without terminal features), which is how the tests drive it.
import { createInterface } from "node:readline";
import type { SinkronClient } from "../../client/index.ts";
import { formatHuman } from "./format.ts";
import { formatLockAnswer } from "./format-lock.ts";
import { formatQueueAnswer } from "./format-queue.ts";
import { formatCacheAnswer } from "./format-cache.ts";
import { commandDocs, complete, formatCommandHelp, formatCommandList } from "./help.ts";
import { HISTORY_LINES_MAX, type History } from "./history.ts";
import { send } from "./session.ts";
import { parseInput } from "./syntax.ts";

export interface InteractiveIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean };
  output: NodeJS.WritableStream;
}

export function promptFor(client: SinkronClient): string {
  return client.node !== null ? `sinkron ${client.node}> ` : "sinkron (reconnecting)> ";
}

export async function runInteractive(client: SinkronClient, io: InteractiveIo, history: History): Promise<number> {
  const docs = commandDocs();
  const rl = createInterface({
    input: io.input,
    output: io.output,
    terminal: io.input.isTTY === true,
    completer: (line: string) => complete(line, docs),
    history: [...history.entries].reverse(), // readline keeps the newest first
    historySize: HISTORY_LINES_MAX,
    removeHistoryDuplicates: true,
  });
  const print = (text: string) => io.output.write(`${text}\n`);
  // On a pipe the input may end (closing readline) while lines are still being worked off.
  let isInputClosed = false;
  rl.on("close", () => {
    isInputClosed = true;
  });
  const prompt = (preserveCursor = false) => {
    if (isInputClosed) return;
    rl.setPrompt(promptFor(client));
    rl.prompt(preserveCursor);
  };
  const server = client.server;
  print(`connected to ${client.node} at ${client.address} (${server?.server ?? "?"} protocol ${server?.version ?? "?"}, role ${server?.role ?? "?"}); help lists commands, .exit leaves`);

  let isBusy = false;
  const notify = (text: string) => {
    print(text);
    if (!isBusy) prompt(true);
  };
  const stopListening = [
    client.on("disconnected", (e) => notify(`(lost ${e.node} at ${e.address}: ${e.error.message}; reconnecting)`)),
    client.on("connected", (e) => notify(`(connected to ${e.node} at ${e.address})`)),
  ];
  let isInterruptPending = false;
  rl.on("SIGINT", () => {
    // Ctrl-C clears the line; twice on an empty line leaves, as in node's REPL.
    if (rl.line === "" && isInterruptPending) {
      rl.close();
      return;
    }
    isInterruptPending = rl.line === "";
    print(isInterruptPending ? "\n(press Ctrl-C again, Ctrl-D or type .exit to leave)" : "");
    rl.write(null, { ctrl: true, name: "u" });
    prompt();
  });

  prompt();
  for await (const line of rl) {
    isInterruptPending = false;
    history.add(line);
    const input = parseInput(line);
    if (input.kind === "exit") break;
    isBusy = true;
    switch (input.kind) {
      case "empty":
        break;
      case "error":
        print(`error: ${input.message}`);
        break;
      case "help": {
        const doc = input.topic === null ? undefined : docs.find((d) => d.name === input.topic);
        if (input.topic === null) print(formatCommandList(docs));
        else print(doc === undefined ? `no command '${input.topic}' (help lists them)` : formatCommandHelp(doc));
        break;
      }
      case "commands": {
        // Sent in one tick, so the client writes them together: a pipeline.
        const outcomes = await Promise.all(input.commands.map((command) => send(client, command)));
        outcomes.forEach((outcome, i) => {
          const prefix = outcomes.length > 1 ? `${i + 1}) ${input.commands[i]!.command} ` : "";
          const command = input.commands[i]!.command;
          print(prefix + (formatLockAnswer(command, outcome) ?? formatQueueAnswer(command, outcome) ?? formatCacheAnswer(command, outcome) ?? formatHuman(outcome)));
        });
        break;
      }
    }
    isBusy = false;
    prompt();
  }
  for (const stop of stopListening) stop();
  rl.close();
  history.save();
  return 0;
}
