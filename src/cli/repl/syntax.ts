// The REPL's input language, as a pure function of one line: `CMD k=v k2="a b"`, `CMD {json}`,
// several commands joined by `;`, and the meta commands (help, .exit). Values that look like
// numbers, booleans, null or JSON become those; anything else is a string. Errors are values
// with a message a person can act on, never exceptions.

export type ReplCommand = { command: string; args: Record<string, unknown> };

export type ReplInput =
  | { kind: "empty" }
  | { kind: "exit" }
  | { kind: "help"; topic: string | null }
  | { kind: "commands"; commands: ReplCommand[] }
  | { kind: "error"; message: string };

const EXIT_WORDS = new Set([".exit", ".quit", "exit", "quit"]);
const HELP_WORDS = new Set(["help", ".help", "?"]);
const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$/;
const KEY_VALUE = /^([A-Za-z_][A-Za-z0-9_]*)=([\s\S]*)$/;
const NUMBER = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?$/;
const INTEGER = /^-?\d+$/;
const HEX = /^([0-9a-fA-F]{2})*$/;

class SyntaxError_ extends Error {}

export function parseInput(line: string): ReplInput {
  const text = line.trim();
  if (text === "" || text.startsWith("#")) return { kind: "empty" };
  const lower = text.toLowerCase();
  if (EXIT_WORDS.has(lower)) return { kind: "exit" };
  const [first, ...more] = text.split(/\s+/);
  if (HELP_WORDS.has(first!.toLowerCase())) {
    if (more.length > 1) return { kind: "error", message: "usage: help [COMMAND]" };
    return { kind: "help", topic: more.length === 1 ? more[0]!.toUpperCase() : null };
  }
  try {
    const commands = splitTopLevel(text, ";")
      .map((segment) => segment.trim())
      .map((segment, i) => {
        if (segment === "") throw new SyntaxError_(`empty command at position ${i + 1} of the pipeline`);
        return parseCommand(segment);
      });
    return { kind: "commands", commands };
  } catch (error) {
    if (error instanceof SyntaxError_) return { kind: "error", message: error.message };
    throw error;
  }
}

function parseCommand(text: string): ReplCommand {
  const match = /^(\S+)\s*([\s\S]*)$/.exec(text)!;
  const name = match[1]!;
  const rest = match[2]!.trim();
  if (!COMMAND_NAME.test(name)) throw new SyntaxError_(`'${name}' is not a command name (try help)`);
  const command = name.toUpperCase();
  if (rest === "") return { command, args: {} };
  if (rest.startsWith("{")) return { command, args: parseJsonArgs(rest) };
  const args: Record<string, unknown> = {};
  for (const word of splitTopLevel(rest, "whitespace")) {
    if (word === "") continue;
    const pair = KEY_VALUE.exec(word);
    if (pair === null) throw new SyntaxError_(`expected key=value or a JSON map after ${command}, got '${word}'`);
    const key = pair[1]!;
    if (Object.hasOwn(args, key)) throw new SyntaxError_(`argument '${key}' is given twice`);
    args[key] = parseValue(key, pair[2]!);
  }
  return { command, args };
}

function parseJsonArgs(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text, reviveBinary);
  } catch (error) {
    throw new SyntaxError_(`the args are not valid JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new SyntaxError_("JSON args must be a map, e.g. {\"key\":\"a\"}");
  }
  return value as Record<string, unknown>;
}

/** A value written after `key=`: quoted → string; true/false/null; a number; JSON; else text. */
export function parseValue(key: string, raw: string): unknown {
  if (raw.startsWith('"')) {
    try {
      const value: unknown = JSON.parse(raw);
      if (typeof value === "string") return value;
    } catch {
      // fall through to the message below
    }
    throw new SyntaxError_(`argument '${key}': a quoted value must be one "string" (with \\" for quotes inside)`);
  }
  if (raw.startsWith("'")) {
    if (raw.length < 2 || !raw.endsWith("'") || raw.slice(1, -1).includes("'")) {
      throw new SyntaxError_(`argument '${key}': a 'single-quoted' value must end with its quote`);
    }
    return raw.slice(1, -1);
  }
  if (raw === "true") return true;
  if (raw === "false") return false;
  if (raw === "null") return null;
  if (NUMBER.test(raw)) {
    // An integer a double cannot hold exactly stays text rather than silently changing.
    if (INTEGER.test(raw) && !Number.isSafeInteger(Number(raw))) return raw;
    return Number(raw);
  }
  if (raw.startsWith("{") || raw.startsWith("[")) {
    try {
      return JSON.parse(raw, reviveBinary);
    } catch (error) {
      throw new SyntaxError_(`argument '${key}' looks like JSON but is not: ${(error as Error).message}`);
    }
  }
  return raw;
}

/** JSON `{"$bin": "<hex>"}` (the marker of protocol/vectors) becomes bytes. */
function reviveBinary(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const hex = (value as Record<string, unknown>).$bin;
    if (keys.length === 1 && typeof hex === "string") {
      if (!HEX.test(hex)) throw new Error(`$bin must be an even number of hex digits, got '${hex}'`);
      return Uint8Array.from(hex.match(/../g) ?? [], (byte) => parseInt(byte, 16));
    }
  }
  return value;
}

/**
 * Splits at `;` (or at runs of whitespace) that are outside quotes and outside {…}/[…], so
 * JSON values and quoted strings may hold both. Unterminated quotes are an error.
 */
function splitTopLevel(text: string, separator: ";" | "whitespace"): string[] {
  const parts: string[] = [];
  let current = "";
  let quote: '"' | "'" | null = null;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote !== null) {
      current += ch;
      if (quote === '"' && ch === "\\" && i + 1 < text.length) current += text[++i]!;
      else if (ch === quote) quote = null;
      continue;
    }
    if (ch === '"' || ch === "'") {
      // Inside JSON every " opens a string; elsewhere a quote opens one only where a value
      // starts (after `=` or a space), so o'neil or 5" stay plain text.
      const opens = depth > 0 ? ch === '"' : current === "" || /[=\s]$/.test(current);
      if (opens) quote = ch;
      current += ch;
      continue;
    }
    if ((ch === "{" || ch === "[") && (depth > 0 || current === "" || /[=\s]$/.test(current))) depth++;
    else if ((ch === "}" || ch === "]") && depth > 0) depth--;
    const isBreak = depth === 0 && (separator === ";" ? ch === ";" : /\s/.test(ch));
    if (isBreak) {
      parts.push(current);
      current = "";
    } else {
      current += ch;
    }
  }
  if (quote !== null) throw new SyntaxError_(`unterminated ${quote === '"' ? "double" : "single"} quote`);
  parts.push(current);
  return separator === "whitespace" ? parts.filter((part) => part !== "") : parts;
}
