// The REPL's input language as a table: what a person types, and what is sent.
import { describe, expect, test } from "bun:test";
import { parseInput, parseValue } from "../../src/cli/repl/syntax.ts";

const sent = (line: string) => {
  const parsed = parseInput(line);
  if (parsed.kind !== "commands") throw new Error(`expected commands, got ${JSON.stringify(parsed)}`);
  return parsed.commands;
};
const errorOf = (line: string) => {
  const parsed = parseInput(line);
  if (parsed.kind !== "error") throw new Error(`expected an error, got ${JSON.stringify(parsed)}`);
  return parsed.message;
};

describe("commands", () => {
  test.each([
    ["PING", [{ command: "PING", args: {} }]],
    ["  ping  ", [{ command: "PING", args: {} }]],
    ["lock.acquire name=resource-A mode=exclusive owner=me", [{ command: "LOCK.ACQUIRE", args: { name: "resource-A", mode: "exclusive", owner: "me" } }]],
    ['KV.SET {"key":"a","value":1}', [{ command: "KV.SET", args: { key: "a", value: 1 } }]],
    ['KV.SET { "key": "a b", "value": {"x": [1, "; y"]} }', [{ command: "KV.SET", args: { key: "a b", value: { x: [1, "; y"] } } }]],
    ['LOCK.ACQUIRE name="a b" owner=\'c d\'', [{ command: "LOCK.ACQUIRE", args: { name: "a b", owner: "c d" } }]],
    ['KV.SET key=k value={"nested": {"deep": [true, null]}}', [{ command: "KV.SET", args: { key: "k", value: { nested: { deep: [true, null] } } } }]],
    ["PING ; STATUS;ping", [{ command: "PING", args: {} }, { command: "STATUS", args: {} }, { command: "PING", args: {} }]],
    ['KV.SET key="a;b" value=1 ; KV.GET key="a;b"', [{ command: "KV.SET", args: { key: "a;b", value: 1 } }, { command: "KV.GET", args: { key: "a;b" } }]],
    ["Q.PRODUCE queue=q body=o'neil", [{ command: "Q.PRODUCE", args: { queue: "q", body: "o'neil" } }]],
    ['KV.SET {"key":"b","value":{"$bin":"68690a"}}', [{ command: "KV.SET", args: { key: "b", value: new Uint8Array([0x68, 0x69, 0x0a]) } }]],
  ] as const)("%s", (line, expected) => {
    expect(sent(line)).toEqual(expected as unknown as ReturnType<typeof sent>);
  });
});

describe("values after key=", () => {
  test.each([
    ["42", 42],
    ["-7", -7],
    ["1.5e3", 1500],
    ["0", 0],
    ["007", "007"], // leading zeros: an id, not a number
    ["12345678901234567890", "12345678901234567890"], // not exactly representable: kept as text
    ["true", true],
    ["false", false],
    ["null", null],
    ["True", "True"],
    ['"42"', "42"],
    ['"say \\"hi\\""', 'say "hi"'],
    ["'x y'", "x y"],
    ["[1,2]", [1, 2]],
    ['{"a":1}', { a: 1 }],
    ["", ""],
    ["resource-A", "resource-A"],
    ["0x12", "0x12"],
  ] as const)("%s", (raw, expected) => {
    expect(parseValue("k", raw)).toEqual(expected);
  });
});

describe("meta commands", () => {
  test("help, help CMD, exit words, comments and blank lines", () => {
    expect(parseInput("help")).toEqual({ kind: "help", topic: null });
    expect(parseInput("HELP lock.acquire")).toEqual({ kind: "help", topic: "LOCK.ACQUIRE" });
    expect(parseInput("?")).toEqual({ kind: "help", topic: null });
    for (const word of [".exit", ".quit", "exit", "QUIT"]) expect(parseInput(word)).toEqual({ kind: "exit" });
    expect(parseInput("   ")).toEqual({ kind: "empty" });
    expect(parseInput("# a comment")).toEqual({ kind: "empty" });
  });
});

describe("mistakes get a message, not an exception", () => {
  test.each([
    ["PING x", "expected key=value"],
    ["LOCK.ACQUIRE name=a name=b", "given twice"],
    ['KV.SET {"key": }', "not valid JSON"],
    ["KV.SET [1,2]", "expected key=value"],
    ['KV.SET name="unterminated', "unterminated double quote"],
    ["KV.SET name='unterminated", "unterminated single quote"],
    ["KV.SET value={oops}", "looks like JSON but is not"],
    ["PING ; ; STATUS", "empty command at position 2"],
    ["9LIVES", "not a command name"],
    ["help a b", "usage: help"],
    ['KV.SET {"value":{"$bin":"xyz"}}', "$bin must be an even number of hex digits"],
    ['KV.SET name="a"b', "a quoted value must be one"],
  ] as const)("%s", (line, fragment) => {
    expect(errorOf(line)).toContain(fragment);
  });
});
