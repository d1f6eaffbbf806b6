// Reads a request body as JSON with a bound on its bytes: a body over the bound is refused
// (TOO_LARGE → 413) without buffering it, and malformed JSON is BAD_REQUEST (400).
import { SinkronError } from "../protocol/errors.ts";
import type { Args } from "../protocol/envelope.ts";

/** Largest request body the HTTP API reads: room for a 1 MiB value plus its JSON quoting. */
export const HTTP_BODY_BYTES_MAX = 2 * 1024 * 1024 + 64 * 1024;

const tooLarge = (bytesMax: number) => new SinkronError("TOO_LARGE", `request body must be at most ${bytesMax} bytes`, { bytesMax });

export async function readBodyBytes(request: Request, bytesMax: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > bytesMax) throw tooLarge(bytesMax);
  if (request.body === null) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let sizeBytes = 0;
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    sizeBytes += value.byteLength;
    if (sizeBytes > bytesMax) {
      await reader.cancel().catch(() => {});
      throw tooLarge(bytesMax);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(sizeBytes);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** The body as a JSON object (an empty body is `{}`). */
export async function readJsonObject(request: Request, bytesMax: number): Promise<Args> {
  const bytes = await readBodyBytes(request, bytesMax);
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new SinkronError("BAD_REQUEST", `malformed JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) throw new SinkronError("BAD_REQUEST", "the body must be a JSON object");
  return value as Args;
}
