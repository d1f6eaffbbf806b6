// Declarative command-line options: each option names its flag, its environment variable
// and its default once, and the same table parses argv, reads the environment, prints
// --help and is checked against the README by a test, so the three never drift apart.

export interface OptionSpec<T> {
  /** Long flag without dashes, e.g. "peers" for --peers. */
  readonly flag: string;
  /** Environment variable read when the flag is absent (null: flag only). */
  readonly env: string | null;
  readonly doc: string;
  /** Shown in --help; `undefined` marks an option without default. */
  readonly defaultText?: string;
  /** True for a switch that takes no value (--raw). */
  readonly isSwitch?: boolean;
  parse(text: string): T;
}

export class UsageError extends Error {
  override name = "UsageError";
}

export type OptionTable = Record<string, OptionSpec<unknown>>;
export type OptionValues<T extends OptionTable> = { [K in keyof T]: T[K] extends OptionSpec<infer V> ? V | undefined : never };

export interface ParsedArgs<T extends OptionTable> {
  values: OptionValues<T>;
  positional: string[];
}

export function parseOptions<T extends OptionTable>(table: T, argv: string[], env: Record<string, string | undefined> = process.env): ParsedArgs<T> {
  const byFlag = new Map<string, [string, OptionSpec<unknown>]>();
  for (const [key, spec] of Object.entries(table)) byFlag.set(spec.flag, [key, spec]);
  const raw = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const flag = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    const found = byFlag.get(flag);
    if (found === undefined) throw new UsageError(`unknown option --${flag}`);
    const [key, spec] = found;
    if (spec.isSwitch) {
      raw.set(key, eq === -1 ? "true" : arg.slice(eq + 1));
      continue;
    }
    const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
    if (value === undefined) throw new UsageError(`option --${flag} needs a value`);
    raw.set(key, value);
  }
  const values: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const text = raw.get(key) ?? (spec.env !== null ? env[spec.env] : undefined);
    if (text === undefined || text === "") continue;
    try {
      values[key] = spec.parse(text);
    } catch (error) {
      const source = raw.has(key) ? `--${spec.flag}` : spec.env;
      throw new UsageError(`${source}: ${(error as Error).message}`);
    }
  }
  return { values: values as OptionValues<T>, positional };
}

export function formatHelp(usage: string, table: OptionTable): string {
  const rows = Object.values(table).map((spec) => {
    const left = `  --${spec.flag}${spec.isSwitch ? "" : " <value>"}`;
    const env = spec.env ? ` [env ${spec.env}]` : "";
    const def = spec.defaultText !== undefined ? ` (default ${spec.defaultText})` : "";
    return `${left.padEnd(34)} ${spec.doc}${def}${env}`;
  });
  return `${usage}\n\nOptions:\n${rows.join("\n")}\n`;
}

// Parsers shared by the option tables.

export const text = (s: string): string => s;

export function integer(min: number, max: number): (s: string) => number {
  return (s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min || n > max) throw new Error(`expected an integer in ${min}..${max}, got '${s}'`);
    return n;
  };
}

export const flagOn = (s: string): boolean => {
  if (s === "true" || s === "1" || s === "yes") return true;
  if (s === "false" || s === "0" || s === "no") return false;
  throw new Error(`expected true or false, got '${s}'`);
};

/** "10s", "500ms", "2m" or a bare number of milliseconds. */
export function durationMs(s: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(s.trim());
  if (!match) throw new Error(`expected a duration like 500ms, 10s or 2m, got '${s}'`);
  const n = Number(match[1]);
  const unit = match[2] ?? "ms";
  return Math.round(unit === "m" ? n * 60_000 : unit === "s" ? n * 1000 : n);
}

/** "16MiB", "512KiB", "1GiB" or a bare number of bytes. */
export function sizeBytes(s: string): number {
  const match = /^(\d+)(B|KiB|MiB|GiB)?$/i.exec(s.trim());
  if (!match) throw new Error(`expected a size like 512KiB or 16MiB, got '${s}'`);
  const factor = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3 }[(match[2] ?? "b").toLowerCase()] ?? 1;
  return Number(match[1]) * factor;
}
