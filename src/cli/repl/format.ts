// How the REPL shows an answer: for people, `STATUS value` with pretty, JSON-like values and
// bytes as text or hex; for scripts (--raw), one JSON object per line, with bytes as
// `{"$bin": "<hex>"}` like protocol/vectors. Pure functions of the decoded value.

export type Outcome = { status: string; value: unknown };

const INDENT = "  ";
/** Arrays of scalars up to this many items print on one line. */
const INLINE_ITEMS_MAX = 8;

/** `OK "PONG"`, `OK {…}`, or `NOT_FOUND no such key {"key":"a"}` for errors. */
export function formatHuman(outcome: Outcome): string {
  if (outcome.status === "OK") return `OK ${formatValue(outcome.value, "")}`;
  const map = isPlainObject(outcome.value) ? outcome.value : { message: String(outcome.value) };
  const { message, ...details } = map;
  const detailText = Object.keys(details).length > 0 ? ` ${formatValue(details, "")}` : "";
  return `${outcome.status} ${typeof message === "string" ? message : formatValue(message, "")}${detailText}`;
}

export function formatValue(value: unknown, indent: string): string {
  if (value === undefined || value === null) return "null";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "bigint") return value.toString();
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return formatBytes(value);
  if (Array.isArray(value)) return formatArray(value, indent);
  if (value instanceof Map) return formatEntries([...value.entries()].map(([k, v]) => [String(k), v]), indent);
  if (typeof value === "object") return formatEntries(Object.entries(value), indent);
  return String(value);
}

function formatArray(items: unknown[], indent: string): string {
  if (items.length === 0) return "[]";
  const isScalar = (item: unknown) => item === null || (typeof item !== "object" && typeof item !== "function") || item instanceof Uint8Array;
  if (items.length <= INLINE_ITEMS_MAX && items.every(isScalar)) return `[${items.map((item) => formatValue(item, indent)).join(", ")}]`;
  const inner = indent + INDENT;
  return `[\n${items.map((item) => inner + formatValue(item, inner)).join(",\n")}\n${indent}]`;
}

function formatEntries(entries: Array<[string, unknown]>, indent: string): string {
  if (entries.length === 0) return "{}";
  const inner = indent + INDENT;
  return `{\n${entries.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${formatValue(v, inner)}`).join(",\n")}\n${indent}}`;
}

/** Bytes that are printable UTF-8 show as text, the rest as hex; the length always shows. */
export function formatBytes(bytes: Uint8Array): string {
  const text = printableUtf8(bytes);
  return text !== null ? `<${bytes.byteLength} bytes ${JSON.stringify(text)}>` : `<${bytes.byteLength} bytes hex ${toHex(bytes)}>`;
}

function printableUtf8(bytes: Uint8Array): string | null {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  // Control characters other than tab/newline mean "this is binary", not text.
  return /[\u0000-\u0008\u000b-\u001f\u007f]/.test(text) ? null : text;
}

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

/** One line of --raw output: `{"id":n,"status":"OK","value":…}`. */
export function formatRawLine(id: number, outcome: Outcome): string {
  return JSON.stringify({ id, status: outcome.status, value: toJsonValue(outcome.value) });
}

/** A decoded MessagePack value made JSON-safe: bytes as {"$bin": hex}, big ints as numbers or strings. */
export function toJsonValue(value: unknown): unknown {
  if (value === undefined) return null;
  if (value instanceof Uint8Array) return { $bin: toHex(value) };
  if (typeof value === "bigint") return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString();
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Map) return Object.fromEntries([...value.entries()].map(([k, v]) => [String(k), toJsonValue(v)]));
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toJsonValue(v)]));
  }
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array) && !(value instanceof Map);
}
