// The JSON convention of the golden vectors, as code: JSON has no binary and no float type,
// so `{"$bin": "hex"}` stands for a MessagePack bin and `{"$float": n}` for a float whose value
// is n. The generator writes values this way and the tests read them back with these helpers.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const byte of bytes) out += byte.toString(16).padStart(2, "0");
  return out;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/.test(hex)) throw new Error(`not lower-case hex of whole bytes: '${hex.slice(0, 40)}'`);
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export const bin = (bytes: Uint8Array): JsonValue => ({ $bin: toHex(bytes) });
export const float = (value: number): JsonValue => ({ $float: value });

/** A map that is a `$bin` or `$float` marker rather than data (no vector uses `$` keys). */
function marker(value: { [key: string]: JsonValue }): "$bin" | "$float" | null {
  const keys = Object.keys(value);
  if (keys.length !== 1) return null;
  if (keys[0] === "$bin" && typeof value.$bin === "string") return "$bin";
  if (keys[0] === "$float" && typeof value.$float === "number") return "$float";
  return null;
}

/** The JavaScript value our codec encodes for a vector's JSON value. */
export function fromJson(value: JsonValue): unknown {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(fromJson);
  switch (marker(value)) {
    case "$bin":
      return fromHex(value.$bin as string);
    case "$float":
      return value.$float as number;
    case null: {
      const out: Record<string, unknown> = {};
      for (const [key, entry] of Object.entries(value)) out[key] = fromJson(entry);
      return out;
    }
  }
}

/**
 * A decoded value in the vectors' JSON form, for comparing with a vector. JavaScript cannot
 * tell the float 1.0 from the integer 1, so compare against `withoutFloatMarkers(expected)`.
 */
export function toJson(value: unknown): JsonValue {
  if (value === null || typeof value === "boolean" || typeof value === "string") return value;
  if (typeof value === "number") return value;
  if (value instanceof Uint8Array) return bin(value);
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    const out: { [key: string]: JsonValue } = {};
    for (const [key, entry] of Object.entries(value)) out[key] = toJson(entry);
    return out;
  }
  const kind = typeof value === "object" ? (value as object).constructor?.name ?? "object" : typeof value;
  throw new Error(`not a plain MessagePack value: ${kind}`);
}

/** The vector's value with every `{"$float": n}` replaced by n. */
export function withoutFloatMarkers(value: JsonValue): JsonValue {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map(withoutFloatMarkers);
  if (marker(value) === "$float") return value.$float as number;
  if (marker(value) === "$bin") return value;
  const out: { [key: string]: JsonValue } = {};
  for (const [key, entry] of Object.entries(value)) out[key] = withoutFloatMarkers(entry);
  return out;
}
