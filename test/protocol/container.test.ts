// The container files cannot be built here (no Docker engine), so this checks what can be
// checked: compose.yaml parses and describes the 3-node cluster, the Dockerfile says what
// docs/docker.md promises, and both healthcheck one-liners — the Dockerfile's golden PING frame
// over TCP, compose's GET /health on the HTTP port — pass against a live node and fail otherwise.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { TCPSocketListener } from "bun";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NODE_OPTIONS } from "../../src/cli/node-config.ts";
import { registerCoreCommands } from "../../src/node/core-commands.ts";
import { frameOf } from "../../src/protocol/frame.ts";
import { encodeValue } from "../../src/protocol/msgpack.ts";
import { CommandRegistry } from "../../src/server/registry.ts";
import { NodeServer } from "../../src/server/server.ts";
import { HttpApi } from "../../src/http/server.ts";
import { silentLogger } from "../../src/util/log.ts";
import { toHex } from "../../protocol/vectors/values.ts";

const ROOT = join(import.meta.dir, "../..");
const text = (path: string): string => readFileSync(join(ROOT, path), "utf8");

interface ComposeService {
  image?: string;
  build?: { context: string };
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }> | string[];
  healthcheck?: { test: string[] };
  configs?: { source: string; target: string }[];
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
  configs?: Record<string, { content: string }>;
}

const parseCompose = (source: string): ComposeFile => Bun.YAML.parse(source) as ComposeFile;

/** Dockerfile instructions with line continuations joined: [keyword, rest]. */
function dockerfileInstructions(source: string): [string, string][] {
  return source
    .replace(/\\\n/g, " ")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const space = line.indexOf(" ");
      return [line.slice(0, space).toUpperCase(), line.slice(space + 1).trim()];
    });
}

/** Removes the "# " of a commented-out YAML block that starts with `# <first>`. */
function uncomment(source: string, first: string): string {
  const lines = source.split("\n");
  const start = lines.findIndex((line) => line.trimStart() === `# ${first}`);
  if (start < 0) throw new Error(`no commented block '${first}'`);
  const indent = lines[start]!.indexOf("#");
  const inner = " ".repeat(indent) + "#  ";
  const strip = (line: string) => " ".repeat(indent) + line.slice(indent + 2);
  lines[start] = strip(lines[start]!);
  for (let i = start + 1; i < lines.length && lines[i]!.startsWith(inner); i++) lines[i] = strip(lines[i]!);
  return lines.join("\n");
}

const compose = parseCompose(text("compose.yaml"));
const dockerfile = dockerfileInstructions(text("Dockerfile"));
const instruction = (keyword: string): string[] => dockerfile.filter(([k]) => k === keyword).map(([, rest]) => rest);
const NODES = ["n1", "n2", "n3"];

/** compose's nodes run with --http: their healthcheck asks GET /health (the same for all three). */
const composeHealthcheck = (): string[] => {
  const test = parseCompose(text("compose.yaml")).services.n1!.healthcheck!.test;
  expect(test[0]).toBe("CMD");
  return test.slice(1);
};

const dockerHealthcheck = (): string[] => {
  const rest = instruction("HEALTHCHECK")[0]!;
  return JSON.parse(rest.slice(rest.indexOf("CMD ") + 4)) as string[];
};

describe("compose.yaml", () => {
  test("three nodes and Redis, each node with its own volume", () => {
    expect(Object.keys(compose.services).sort()).toEqual(["n1", "n2", "n3", "redis"]);
    expect(Object.keys(compose.volumes).sort()).toEqual(["n1-data", "n2-data", "n3-data", "redis-data"]);
  });

  for (const [i, name] of NODES.entries()) {
    test(`${name}: image, environment, ports, volume, healthcheck, dependency`, () => {
      const node = compose.services[name]!;
      expect(node.image).toBe("sinkron:local");
      expect(node.build?.context).toBe(".");
      expect(node.environment).toMatchObject({
        SINKRON_ID: name,
        SINKRON_LISTEN: "0.0.0.0:7001",
        SINKRON_HTTP: "0.0.0.0:8001",
        SINKRON_PEERS: "n1=n1:7001,n2=n2:7001,n3=n3:7001",
        SINKRON_DATA: "/data",
        SINKRON_TOKEN: "${SINKRON_TOKEN:-}",
        SINKRON_REDIS: "${SINKRON_REDIS:-}",
      });
      expect(node.ports).toEqual([`127.0.0.1:${7001 + i}:7001`, `127.0.0.1:${8001 + i}:8001`]);
      expect(node.volumes).toEqual([`${name}-data:/data`]);
      expect(node.healthcheck?.test).toEqual(["CMD", ...composeHealthcheck()]);
      expect(node.depends_on).toEqual({ redis: { condition: "service_healthy" } });
    });
  }

  test("every SINKRON_* variable it sets is one the CLI reads", () => {
    const known = new Set(Object.values(NODE_OPTIONS).map((option) => option.env));
    for (const name of NODES) {
      for (const variable of Object.keys(compose.services[name]!.environment ?? {})) expect(known.has(variable)).toBe(true);
    }
  });

  test("redis: redis:7 with a healthcheck and a volume", () => {
    const redis = compose.services.redis!;
    expect(redis.image).toBe("redis:7");
    expect(redis.healthcheck?.test.join(" ")).toContain("redis-cli ping");
    expect(redis.volumes).toEqual(["redis-data:/data"]);
  });

  test("the commented-out Prometheus service is valid once uncommented and scrapes all three nodes", () => {
    const enabled = parseCompose(uncomment(uncomment(text("compose.yaml"), "prometheus:"), "configs:"));
    const prometheus = enabled.services.prometheus!;
    expect(prometheus.configs).toEqual([{ source: "prometheus-config", target: "/etc/prometheus/prometheus.yml" }]);
    const scrape = Bun.YAML.parse(enabled.configs!["prometheus-config"]!.content) as {
      scrape_configs: { metrics_path: string; static_configs: { targets: string[] }[] }[];
    };
    expect(scrape.scrape_configs[0]!.metrics_path).toBe("/metrics");
    expect(scrape.scrape_configs[0]!.static_configs[0]!.targets).toEqual(["n1:8001", "n2:8001", "n3:8001"]);
  });
});

describe("Dockerfile", () => {
  test("the Bun base image matches the Bun the project installs", () => {
    const bunVersion = (JSON.parse(text("node_modules/bun/package.json")) as { version: string }).version;
    expect(instruction("ARG")).toContain(`BUN_VERSION=${bunVersion}`);
    expect(instruction("FROM")).toContain("oven/bun:${BUN_VERSION}-slim AS runtime");
  });

  test("production dependencies from the npm lockfile, non-root user, ports, volume, entrypoint", () => {
    expect(instruction("RUN").some((run) => run.includes("npm ci --omit=dev"))).toBe(true);
    expect(instruction("USER")).toEqual(["sinkron:sinkron"]);
    expect(instruction("EXPOSE")).toEqual(["7001 8001"]);
    expect(instruction("VOLUME")).toEqual(["/data"]);
    expect(JSON.parse(instruction("ENTRYPOINT")[0]!)).toEqual(["bun", "src/cli/main.ts", "node"]);
    const env = instruction("ENV").join(" ");
    for (const setting of ["SINKRON_LISTEN=0.0.0.0:7001", "SINKRON_HTTP=0.0.0.0:8001", "SINKRON_DATA=/data"]) expect(env).toContain(setting);
  });

  test(".dockerignore keeps dependencies and clutter out but every runtime source in", () => {
    const patterns = text(".dockerignore")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line !== "" && !line.startsWith("#"));
    expect(patterns).toContain("**/node_modules");
    for (const needed of ["src", "bin", "bench", "package.json", "package-lock.json"]) expect(patterns).not.toContain(needed);
  });
});

describe("the healthcheck one-liner", () => {
  let server: NodeServer;
  let serverWithToken: NodeServer;
  let impostor: TCPSocketListener<undefined>;

  const startNode = (token: string | null): NodeServer => {
    const registry = new CommandRegistry();
    registerCoreCommands(registry, {
      nodeId: "n1",
      token,
      status: () => ({ node: "n1", role: "standalone", term: 0, leader: null, commitIndex: 0, appliedIndex: 0, members: [] }),
    });
    const node = new NodeServer({ host: "127.0.0.1", port: 0, registry, log: silentLogger, token });
    node.start();
    return node;
  };

  const runHealthcheck = async (port: number): Promise<number> => {
    const [command, ...args] = dockerHealthcheck();
    expect(command).toBe("bun");
    const child = Bun.spawn([process.execPath, ...args], {
      env: { ...process.env, SINKRON_LISTEN: `0.0.0.0:${port}` },
      stdout: "ignore",
      stderr: "ignore",
    });
    return await child.exited;
  };

  beforeAll(() => {
    server = startNode(null);
    serverWithToken = startNode("s3cret");
    impostor = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: { open: (socket) => void socket.write("HTTP/1.1 400 Bad Request\r\n\r\n"), data: () => {} },
    });
  });

  afterAll(async () => {
    impostor.stop(true);
    await Promise.all([server.stop(), serverWithToken.stop()]);
  });

  test("sends the golden PING frame and expects the golden answer", () => {
    const script = dockerHealthcheck()[2]!;
    expect(script).toContain(`Buffer.from('${toHex(frameOf(encodeValue([1, "PING", {}])))}','hex')`);
    expect(script).toContain(`want='${toHex(frameOf(encodeValue([1, "OK", "PONG"])))}'`);
  });

  test("passes against a live node, with or without a token", async () => {
    expect(await runHealthcheck(server.port)).toBe(0);
    expect(await runHealthcheck(serverWithToken.port)).toBe(0);
  });

  test("fails against a closed port and against something that is not sinkron", async () => {
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: () => {} } });
    const closedPort = closed.port;
    closed.stop(true);
    expect(await runHealthcheck(closedPort)).not.toBe(0);
    expect(await runHealthcheck(impostor.port)).not.toBe(0);
  });
});

describe("compose's healthcheck one-liner (GET /health)", () => {
  const apis: HttpApi[] = [];
  const startApi = (leader: string | null, token: string | null): HttpApi => {
    const registry = new CommandRegistry();
    registerCoreCommands(registry, {
      nodeId: "n1",
      token,
      status: () => ({ node: "n1", role: leader === "n1" ? "leader" : "follower", term: 1, leader, commitIndex: 0, appliedIndex: 0, members: [] }),
    });
    const api = new HttpApi({ host: "127.0.0.1", port: 0, registry, token, log: silentLogger });
    api.start();
    apis.push(api);
    return api;
  };

  const runHealthcheck = async (port: number): Promise<number> => {
    const [command, ...args] = composeHealthcheck();
    expect(command).toBe("bun");
    const child = Bun.spawn([process.execPath, ...args], { env: { ...process.env, SINKRON_HTTP: `0.0.0.0:${port}` }, stdout: "ignore", stderr: "ignore" });
    return await child.exited;
  };

  afterAll(async () => {
    await Promise.all(apis.map((api) => api.stop()));
  });

  test("passes while the node knows a leader, with or without a token", async () => {
    expect(await runHealthcheck(startApi("n2", null).port)).toBe(0);
    expect(await runHealthcheck(startApi("n1", "s3cret").port)).toBe(0);
  });

  test("fails without a leader, against a closed port and against something that is not sinkron", async () => {
    expect(await runHealthcheck(startApi(null, null).port)).not.toBe(0);
    const closed = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data: () => {} } });
    const closedPort = closed.port;
    closed.stop(true);
    expect(await runHealthcheck(closedPort)).not.toBe(0);
    const impostor = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("not sinkron", { status: 404 }) });
    expect(await runHealthcheck(impostor.port!)).not.toBe(0);
    impostor.stop(true);
  });
});
