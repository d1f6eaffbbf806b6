// What the REPL prints, what help knows and completes, and the bounded history file.
import { describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatHuman, formatRawLine, formatValue } from "../../src/cli/repl/format.ts";
import { commandDocs, complete, formatCommandHelp, formatCommandList } from "../../src/cli/repl/help.ts";
import { HISTORY_LINES_MAX, History, historyPath } from "../../src/cli/repl/history.ts";
import { CORE_COMMANDS } from "../../src/protocol/commands.ts";

describe("human output", () => {
  test("OK values: strings quoted, maps pretty, short scalar arrays inline, bytes as text or hex", () => {
    expect(formatHuman({ status: "OK", value: "PONG" })).toBe('OK "PONG"');
    expect(formatHuman({ status: "OK", value: { token: 3, mode: "exclusive" } })).toBe('OK {\n  "token": 3,\n  "mode": "exclusive"\n}');
    expect(formatValue([1, "a", null], "")).toBe('[1, "a", null]');
    expect(formatValue([], "")).toBe("[]");
    expect(formatValue(new TextEncoder().encode("hello"), "")).toBe('<5 bytes "hello">');
    expect(formatValue(new Uint8Array([0, 255, 16]), "")).toBe("<3 bytes hex 00ff10>");
    expect(formatValue(2n ** 70n, "")).toBe("1180591620717411303424");
  });

  test("errors: code, message, then any details", () => {
    expect(formatHuman({ status: "NOT_FOUND", value: { message: "no such key" } })).toBe("NOT_FOUND no such key");
    expect(formatHuman({ status: "BAD_REQUEST", value: { message: "bad", argument: "x" } })).toBe('BAD_REQUEST bad {\n  "argument": "x"\n}');
  });
});

describe("--raw lines", () => {
  test("one JSON object per response; bytes as $bin, unsafe integers as text", () => {
    expect(formatRawLine(1, { status: "OK", value: "PONG" })).toBe('{"id":1,"status":"OK","value":"PONG"}');
    expect(formatRawLine(2, { status: "OK", value: { b: new Uint8Array([1, 2]), n: 2n ** 64n, s: 5n } })).toBe(
      '{"id":2,"status":"OK","value":{"b":{"$bin":"0102"},"n":"18446744073709551616","s":5}}',
    );
    expect(JSON.parse(formatRawLine(3, { status: "TIMEOUT", value: { message: "late" } }))).toEqual({ id: 3, status: "TIMEOUT", value: { message: "late" } });
  });
});

describe("help", () => {
  const docs = commandDocs();
  test("knows the catalog's commands with their schemas, and the planned ones", () => {
    for (const info of CORE_COMMANDS) expect(docs.find((d) => d.name === info.name)?.isPlanned).toBe(false);
    const hello = docs.find((d) => d.name === "HELLO")!;
    const required = Object.fromEntries(hello.args.map((a) => [a.name, a.required]));
    expect(required).toMatchObject({ version: true, token: false, name: false });
    for (const name of ["LOCK.ACQUIRE", "Q.CONSUME", "KV.SET", "CLUSTER.TRANSFER", "CACHE.METRICS"]) {
      expect(docs.some((d) => d.name === name)).toBe(true);
    }
    expect(new Set(docs.map((d) => d.name)).size).toBe(docs.length);
  });

  test("help CMD shows argument types and docs", () => {
    const text = formatCommandHelp(docs.find((d) => d.name === "HELLO")!);
    expect(text).toContain("version  integer (1..1000000) — protocol version the client speaks");
    expect(text).toContain("token?");
    expect(formatCommandList(docs)).toContain("PING              liveness check; answers PONG");
  });

  test("tab completion: command names (any case), help topics, argument keys", () => {
    expect(complete("LOCK.A", docs)).toEqual([["LOCK.ACQUIRE"], "LOCK.A"]);
    expect(complete("lock.r", docs)).toEqual([["lock.release", "lock.renew"], "lock.r"]);
    expect(complete("PING ; STA", docs)).toEqual([["STATUS"], "STA"]);
    expect(complete("help Q.C", docs)).toEqual([["Q.CONSUME", "Q.CREATE"], "Q.C"]);
    expect(complete("LOCK.ACQUIRE name=a ", docs)).toEqual([["mode=", "owner=", "waitMs=", "ttlMs="], ""]);
    expect(complete("LOCK.ACQUIRE name=a o", docs)).toEqual([["owner="], "o"]);
    expect(complete("he", docs)[0]).toContain("help");
  });
});

describe("history", () => {
  test("SINKRON_REPL_HISTORY names the file; empty means none; default is ~/.sinkron_history", () => {
    expect(historyPath({ SINKRON_REPL_HISTORY: "/x/h" })).toBe("/x/h");
    expect(historyPath({ SINKRON_REPL_HISTORY: "" })).toBeNull();
    expect(historyPath({ HOME: "/home/me" })).toBe("/home/me/.sinkron_history");
  });

  test("keeps the last HISTORY_LINES_MAX lines, skips blanks and repeats, survives a bad path", () => {
    const path = join(mkdtempSync(join(tmpdir(), "sinkron-history-")), "h");
    writeFileSync(path, Array.from({ length: HISTORY_LINES_MAX + 50 }, (_, i) => `PING ${i}`).join("\n") + "\n");
    const history = new History(path);
    expect(history.entries.length).toBe(HISTORY_LINES_MAX);
    expect(history.entries[0]).toBe("PING 50");
    history.add("STATUS");
    history.add("STATUS");
    history.add("   ");
    history.save();
    const lines = readFileSync(path, "utf8").trimEnd().split("\n");
    expect(lines.length).toBe(HISTORY_LINES_MAX);
    expect(lines.at(-1)).toBe("STATUS");
    expect(lines.at(-2)).toBe(`PING ${HISTORY_LINES_MAX + 49}`);
    const broken = new History("/nonexistent-dir/h");
    broken.add("PING");
    broken.save();
    expect(broken.entries).toEqual(["PING"]);
  });
});
