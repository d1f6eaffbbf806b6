// Runs the REPL in its own process, as `sinkron repl` would, for the REPL tests (there is no
// separate entry point: src/cli/main.ts dispatches `repl` to runRepl).
import { runRepl } from "../../src/cli/repl.ts";

process.exitCode = await runRepl(process.argv.slice(2));
