// `sinkron cluster`: a local cluster of N nodes as child processes on loopback, for trying
// sinkron and for tests. Each node's output is prefixed with its id; Ctrl-C (or SIGTERM)
// stops them all gracefully.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { formatHelp, integer, parseOptions, text, UsageError } from "./options.ts";

export const CLUSTER_OPTIONS = {
  nodes: { flag: "nodes", env: "SINKRON_CLUSTER_NODES", doc: "how many nodes", defaultText: "3", parse: integer(1, 9) },
  basePort: { flag: "base-port", env: "SINKRON_CLUSTER_BASE_PORT", doc: "node i listens on base-port + i - 1", defaultText: "7001", parse: integer(1, 65535) },
  httpBasePort: { flag: "http-base-port", env: "SINKRON_CLUSTER_HTTP_BASE_PORT", doc: "when set, node i serves HTTP on http-base-port + i - 1", parse: integer(1, 65535) },
  host: { flag: "host", env: "SINKRON_CLUSTER_HOST", doc: "address every node binds", defaultText: "127.0.0.1", parse: text },
  data: { flag: "data", env: "SINKRON_CLUSTER_DATA", doc: "parent directory of the nodes' data directories", defaultText: "./data", parse: text },
  redis: { flag: "redis", env: "SINKRON_REDIS", doc: "redis://host:port passed to every node", parse: text },
  token: { flag: "token", env: "SINKRON_TOKEN", doc: "shared secret passed to every node", parse: text },
} as const;

const USAGE = "usage: sinkron cluster [--nodes 3] [--base-port 7001] [--data ./data] [options]";
const MAIN = path.join(import.meta.dir, "main.ts");

export async function runCluster(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(formatHelp(USAGE, CLUSTER_OPTIONS));
    return 0;
  }
  const { values, positional } = parseOptions(CLUSTER_OPTIONS, argv);
  if (positional.length > 0) throw new UsageError(`unexpected argument '${positional[0]}'`);
  const count = values.nodes ?? 3;
  const basePort = values.basePort ?? 7001;
  const host = values.host ?? "127.0.0.1";
  const dataRoot = values.data ?? "./data";
  if (basePort + count - 1 > 65535) throw new UsageError("--base-port leaves no room for every node");
  const ids = Array.from({ length: count }, (_, i) => `n${i + 1}`);
  const peers = ids.map((id, i) => `${id}=${host}:${basePort + i}`).join(",");
  // The members prove membership to each other with a secret no client is given: one per run
  // unless set, handed over in the environment (not argv, which any local user can read).
  const clusterSecret = process.env.SINKRON_CLUSTER_SECRET ?? randomBytes(24).toString("base64url");

  const children = ids.map((id, i) => {
    const args = [MAIN, "node", "--id", id, "--listen", `${host}:${basePort + i}`, "--peers", peers, "--data", path.join(dataRoot, id)];
    if (values.httpBasePort !== undefined) args.push("--http", `${host}:${values.httpBasePort + i}`);
    if (values.redis !== undefined) args.push("--redis", values.redis);
    if (values.token !== undefined) args.push("--token", values.token);
    const child = Bun.spawn([process.execPath, ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore", env: { ...process.env, SINKRON_CLUSTER_SECRET: clusterSecret } });
    void prefixLines(child.stdout, id, process.stdout);
    void prefixLines(child.stderr, id, process.stderr);
    return { id, port: basePort + i, child };
  });

  process.stdout.write(`sinkron cluster: ${count} node(s)\n`);
  for (const { id, port } of children) {
    const http = values.httpBasePort !== undefined ? `  http ${host}:${values.httpBasePort + Number(id.slice(1)) - 1}` : "";
    process.stdout.write(`  ${id}  ${host}:${port}${http}  data ${path.join(dataRoot, id)}\n`);
  }
  process.stdout.write(`try: npx sinkron repl ${host}:${basePort}    stop: Ctrl-C\n`);

  let stopping = false;
  const stopAll = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\nsinkron cluster: ${signal}, stopping ${count} node(s)\n`);
    for (const { child } of children) child.kill("SIGTERM");
  };
  process.once("SIGINT", () => stopAll("SIGINT"));
  process.once("SIGTERM", () => stopAll("SIGTERM"));

  const codes = await Promise.all(
    children.map(async ({ id, child }) => {
      const code = await child.exited;
      if (!stopping) process.stderr.write(`sinkron cluster: node ${id} exited with code ${code}\n`);
      return code;
    }),
  );
  return stopping ? 0 : codes.find((c) => c !== 0) ?? 0;
}

async function prefixLines(stream: ReadableStream<Uint8Array>, id: string, out: NodeJS.WriteStream): Promise<void> {
  const decoder = new TextDecoder();
  let carry = "";
  for await (const chunk of stream) {
    const lines = (carry + decoder.decode(chunk, { stream: true })).split("\n");
    carry = lines.pop() ?? "";
    for (const line of lines) out.write(`[${id}] ${line}\n`);
  }
  if (carry) out.write(`[${id}] ${carry}\n`);
}
