// Sends parsed REPL commands through the client and turns every ending — an answer, an error
// status, a client-side failure — into one Outcome, so printing never has to catch.
import { SinkronError, type SinkronClient } from "../../client/index.ts";
import type { Outcome } from "./format.ts";
import type { ReplCommand } from "./syntax.ts";

export function send(client: SinkronClient, command: ReplCommand): Promise<Outcome> {
  return client.call(command.command, command.args).then(
    (value): Outcome => ({ status: "OK", value }),
    (error: unknown): Outcome =>
      error instanceof SinkronError ? { status: error.code, value: error.toValue() } : { status: "INTERNAL", value: { message: String(error) } },
  );
}
