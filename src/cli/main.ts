#!/usr/bin/env bun
// The `sinkron` command: one entry point for running nodes, a local cluster, the debug
// REPL and the benchmark tool. Subcommands load lazily so `sinkron node` starts fast.
import { UsageError } from "./options.ts";

const HELP = `sinkron — distributed locks, queues and a coherent cache on Raft

usage: sinkron <command> [options]      (sinkron <command> --help for its options)

commands:
  node      run one node            sinkron node --id n1 --listen 127.0.0.1:7001 --peers n1=...,n2=...,n3=... --data ./data/n1
  cluster   run a local cluster     sinkron cluster [--nodes 3] [--base-port 7001] [--data ./data]
  repl      debug REPL              sinkron repl [host:port] [--raw]
  bench     benchmark tool          sinkron bench ping --target 127.0.0.1:7001 --pipeline 64 --duration 10s
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "node":
      return (await import("./node-command.ts")).runNode(rest);
    case "cluster":
      return (await import("./cluster-command.ts")).runCluster(rest);
    case "repl":
      return (await import("./repl.ts")).runRepl(rest);
    case "bench":
      return (await import("../../bench/cli.ts")).runBench(rest);
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`sinkron: unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`sinkron: ${error.message}\n`);
    process.exitCode = 2;
  } else {
    throw error;
  }
}
