// Stand-alone entry for the benchmark tool, identical to `sinkron bench …`:
//   bun bench/run.ts ping --target 127.0.0.1:7001 --pipeline 64 --duration 10s
// It exists so the tool runs without the CLI and so measurements name one exact command.
import { runBench } from "./cli.ts";

process.exitCode = await runBench(process.argv.slice(2));
