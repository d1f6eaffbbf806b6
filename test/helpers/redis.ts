// A throwaway redis-server for tests of the Redis backing store and of cache clusters that use
// it: one process on a free loopback port, nothing persisted (no RDB, no AOF; its files live in
// a temp dir removed by stop()), and kill()/restart() to simulate a crash and a recovery on the
// same address, so clients configured with `url` reconnect without being told. DEBUG is enabled
// for loopback clients, so a test can make Redis hang (`redis-cli -p PORT DEBUG SLEEP 2`).
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePortRange } from "./ports.ts";

const REDIS_SERVER_PATH = "/usr/bin/redis-server";
const START_TIMEOUT_MS = 5_000;
const PING_INTERVAL_MS = 20;
const PING_TIMEOUT_MS = 200;
const START_ATTEMPTS_MAX = 3;

export interface RedisServer {
  /** `redis://127.0.0.1:PORT`, for RedisStore's `url`. */
  readonly url: string;
  readonly port: number;
  /** SIGTERM, wait for exit, remove its temp dir. Idempotent; restart() brings it back. */
  stop(): Promise<void>;
  /** SIGKILL (a crash): resolves once the process is gone. Idempotent. */
  kill(): Promise<void>;
  /** Stops it if running, starts a fresh (empty) server on the same port, resolves once it answers PING. */
  restart(): Promise<void>;
}

/** Starts a redis-server and resolves once it answers PING (rejects after START_TIMEOUT_MS). */
export async function startRedis(): Promise<RedisServer> {
  for (let attempt = 1; ; attempt++) {
    const port = freePortRange(1);
    const server = new ThrowawayRedis(port);
    try {
      await server.restart();
      return server;
    } catch (error) {
      // Another process may have taken the port between the probe and the bind: try another.
      await server.stop();
      if (attempt >= START_ATTEMPTS_MAX) throw error;
    }
  }
}

class ThrowawayRedis implements RedisServer {
  readonly url: string;
  private process: ReturnType<typeof Bun.spawn> | null = null;
  private dir: string | null = null;

  constructor(readonly port: number) {
    this.url = `redis://127.0.0.1:${port}`;
    // A test process that dies without afterAll must not leave redis-server behind.
    process.once("exit", () => this.process?.kill("SIGKILL"));
  }

  async stop(): Promise<void> {
    await this.signal("SIGTERM");
    if (this.dir !== null) rmSync(this.dir, { recursive: true, force: true });
    this.dir = null;
  }

  kill(): Promise<void> {
    return this.signal("SIGKILL");
  }

  async restart(): Promise<void> {
    await this.stop();
    const dir = (this.dir = mkdtempSync(join(tmpdir(), "sinkron-redis-")));
    const logPath = join(dir, "redis.log");
    const args = ["--port", String(this.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", logPath, "--enable-debug-command", "local"];
    const child = (this.process = Bun.spawn([REDIS_SERVER_PATH, ...args], { stdout: "ignore", stderr: "ignore" }));
    const deadlineMs = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadlineMs) {
      if (child.exitCode !== null) break;
      if (await ping(this.port)) return;
      await Bun.sleep(PING_INTERVAL_MS);
    }
    const log = readLog(logPath);
    await this.signal("SIGKILL");
    throw new Error(`redis-server on port ${this.port} did not answer PING within ${START_TIMEOUT_MS} ms (exit ${child.exitCode}):\n${log}`);
  }

  private async signal(signal: "SIGTERM" | "SIGKILL"): Promise<void> {
    const child = this.process;
    this.process = null;
    if (child === null) return;
    child.kill(signal);
    await child.exited;
  }
}

/** True when something on `port` answers PING with +PONG within PING_TIMEOUT_MS. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => finish(false), PING_TIMEOUT_MS);
    socket.on("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) finish(reply.startsWith("+PONG"));
    });
    socket.on("error", () => finish(false));
  });
}

function readLog(path: string): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-20).join("\n");
  } catch {
    return "(no log)";
  }
}
