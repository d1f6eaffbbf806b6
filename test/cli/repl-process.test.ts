// `sinkron repl` as scripts and people use it, in its own process (test/cli/repl-runner.ts)
// against an in-process node: --raw turns lines into JSON lines in input order; the
// interactive mode prompts with the node id, answers, helps, keeps history and exits.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import type { SinkronNode } from "../../src/node/node.ts";
import { addressOf, freePort, startNode } from "../client/support/nodes.ts";

const RUNNER = join(import.meta.dir, "repl-runner.ts");

let node: SinkronNode;
let secured: SinkronNode;
beforeAll(() => {
  node = startNode({ id: "n1" });
  secured = startNode({ id: "s1", token: "t0ken" });
});
afterAll(async () => {
  await node.stop();
  await secured.stop();
});

function spawnRepl(args: string[], env: Record<string, string> = {}): Subprocess<"pipe", "pipe", "pipe"> {
  return Bun.spawn([process.execPath, RUNNER, ...args], {
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, SINKRON_REPL_HISTORY: "", SINKRON_TOKEN: "", ...env },
  });
}

async function runRaw(args: string[], input: string, env?: Record<string, string>) {
  const child = spawnRepl(["--raw", ...args], env);
  child.stdin.write(input);
  await child.stdin.end();
  const [stdout, stderr, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  const lines = stdout.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line) as { id: number; status: string; value: unknown });
  return { lines, stderr, code };
}

describe("--raw", () => {
  test("one JSON line per command, in input order, exit 0 at end of input", async () => {
    const input = ["PING", "", "# comment", "STATUS", 'NO.SUCH {"key":"a","value":1}', "PING extra=1", "oops!", "PING ; ping", "help"].join("\n") + "\n";
    const { lines, code } = await runRaw([addressOf(node)], input);
    expect(code).toBe(0);
    expect(lines.map((l) => [l.id, l.status])).toEqual([
      [1, "OK"],
      [2, "OK"],
      [3, "UNKNOWN_COMMAND"],
      [4, "BAD_REQUEST"],
      [5, "BAD_REQUEST"],
      [6, "OK"],
      [7, "OK"],
      [8, "BAD_REQUEST"],
    ]);
    expect(lines[0]!.value).toBe("PONG");
    expect(lines[1]!.value).toMatchObject({ node: "n1" });
    expect(lines[4]!.value).toEqual({ message: "'oops!' is not a command name (try help)" });
  });

  test("thousands of lines stay in order (pipelined, bounded in flight)", async () => {
    const count = 3000;
    const input = Array.from({ length: count }, (_, i) => (i % 3 === 0 ? "STATUS" : "PING")).join("\n");
    const { lines, code } = await runRaw([addressOf(node)], input);
    expect(code).toBe(0);
    expect(lines.length).toBe(count);
    lines.forEach((line, i) => {
      expect(line.id).toBe(i + 1);
      expect(line.status).toBe("OK");
      if (i % 3 !== 0) expect(line.value).toBe("PONG");
    });
  });

  test("exit 1 with a message when no node is reachable", async () => {
    const { lines, stderr, code } = await runRaw([`127.0.0.1:${freePort()}`, "--timeout", "300ms"], "PING\n");
    expect(code).toBe(1);
    expect(lines).toEqual([]);
    expect(stderr).toContain("no node reachable within 300 ms");
  });

  test("--token (or SINKRON_TOKEN) authenticates; a wrong one exits 1 with UNAUTHORIZED", async () => {
    expect((await runRaw([addressOf(secured), "--token", "t0ken"], "STATUS\n")).lines[0]).toMatchObject({ status: "OK", value: { node: "s1" } });
    expect((await runRaw([addressOf(secured)], "STATUS\n", { SINKRON_TOKEN: "t0ken" })).lines[0]!.status).toBe("OK");
    const wrong = await runRaw([addressOf(secured), "--token", "nope"], "STATUS\n");
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain("wrong token");
  });

  test("fails over to the next listed node", async () => {
    const { lines, code } = await runRaw([`127.0.0.1:${freePort()}`, addressOf(node)], "STATUS\n");
    expect(code).toBe(0);
    expect(lines[0]!.value).toMatchObject({ node: "n1" });
  });

  test("a usage error is reported (exit 2 comes from main.ts's UsageError handling)", async () => {
    const child = spawnRepl(["--bogus"]);
    await child.stdin.end();
    expect(await child.exited).not.toBe(0);
    expect(await new Response(child.stderr).text()).toContain("unknown option --bogus");
  });
});

/** Reads a child's stdout as it comes, so a test can wait for a prompt before typing. */
class Transcript {
  text = "";
  private readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    const decoder = new TextDecoder();
    this.done = (async () => {
      for await (const chunk of stream) this.text += decoder.decode(chunk, { stream: true });
    })();
  }

  async waitFor(fragment: string, timeoutMs = 5000): Promise<void> {
    const deadlineMs = performance.now() + timeoutMs;
    while (!this.text.includes(fragment)) {
      if (performance.now() > deadlineMs) throw new Error(`no '${fragment}' in:\n${this.text}`);
      await Bun.sleep(5);
    }
  }

  /** Waits for `fragment` to appear `count` times in total. */
  async waitForCount(fragment: string, count: number, timeoutMs = 5000): Promise<void> {
    const deadlineMs = performance.now() + timeoutMs;
    while (this.text.split(fragment).length - 1 < count) {
      if (performance.now() > deadlineMs) throw new Error(`fewer than ${count} '${fragment}' in:\n${this.text}`);
      await Bun.sleep(5);
    }
  }

  finished(): Promise<void> {
    return this.done;
  }
}

describe("interactive (readline on a pipe)", () => {
  test("prompts with the node id, answers, pipelines, helps, keeps history, exits on .exit", async () => {
    const historyFile = join(mkdtempSync(join(tmpdir(), "sinkron-repl-")), "history");
    const child = spawnRepl([addressOf(node)], { SINKRON_REPL_HISTORY: historyFile });
    const out = new Transcript(child.stdout);
    const type = async (line: string, promptsBefore: number) => {
      await out.waitForCount("sinkron n1> ", promptsBefore);
      child.stdin.write(`${line}\n`);
      await child.stdin.flush();
    };
    await out.waitFor("connected to n1 at");
    await type("ping", 1);
    await type("PING ; STATUS", 2);
    await type("help", 3);
    await type("help lock.acquire", 4);
    await type("NO.SUCH name=resource-A mode=exclusive owner=me", 5);
    await type("PING nope", 6);
    await type(".exit", 7);
    // stdin stays open: .exit alone must end the process.
    expect(await child.exited).toBe(0);
    await out.finished();
    const text = out.text;
    expect(text).toContain('sinkron n1> OK "PONG"');
    expect(text).toContain('1) PING OK "PONG"');
    expect(text).toContain('2) STATUS OK {\n  "node": "n1"');
    expect(text).toContain("LOCK.ACQUIRE      take a shared or exclusive lock");
    expect(text).toContain("  mode     \"shared\" | \"exclusive\" — shared locks coexist");
    expect(text).toContain("UNKNOWN_COMMAND unknown command 'NO.SUCH'");
    expect(text).toContain("error: expected key=value or a JSON map after PING, got 'nope'");
    expect(readFileSync(historyFile, "utf8").split("\n").filter(Boolean)).toEqual([
      "ping",
      "PING ; STATUS",
      "help",
      "help lock.acquire",
      "NO.SUCH name=resource-A mode=exclusive owner=me",
      "PING nope",
      ".exit",
    ]);
  });

  test("end of input (Ctrl-D) exits 0; a lost node is announced and the prompt follows the failover", async () => {
    const second = startNode({ id: "n2" });
    const first = startNode({ id: "n1b" });
    const child = spawnRepl([addressOf(first), addressOf(second)]);
    const out = new Transcript(child.stdout);
    await out.waitFor("sinkron n1b> ");
    await first.stop();
    await out.waitFor("(lost n1b at");
    await out.waitFor("(connected to n2 at");
    child.stdin.write("STATUS\n");
    await child.stdin.flush();
    await out.waitFor('"node": "n2"');
    await child.stdin.end();
    expect(await child.exited).toBe(0);
    await out.finished();
    expect(out.text).toContain("sinkron n2> ");
    await second.stop();
  });
});
