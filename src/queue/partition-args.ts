// Checks a q.* command's arguments completely before the machine touches its state, so a
// refused command changes nothing (a partial apply would differ between replicas only if
// validation differed, but it would still leave half a batch behind). Anything a client or a
// newer node can put in a log entry is a value here, never an exception.
import { bodySizeBytes } from "./partition-record.ts";
import type { Lane, MessageBody } from "./partition-types.ts";

export class BadArgs {
  constructor(readonly message: string) {}
}

export interface ProduceArgs {
  messages: readonly (readonly [MessageBody, string | null])[];
  /** Size of each body, computed once here. */
  sizesBytes: number[];
  bytes: number;
}

export interface ConsumeArgs {
  lane: Lane;
  /** [max, visibilityMs] */
  requests: readonly (readonly [number, number])[];
  nowMs: number;
}

export interface AckArgs {
  lane: Lane;
  seqs: readonly number[];
}

export interface NackArgs {
  lane: Lane;
  seqs: readonly number[];
  delayMs: number;
  nowMs: number;
}

export interface TickArgs {
  nowMs: number;
}

type Args = Record<string, unknown>;

/** Times, durations and counts: integers a double holds exactly, so every replica adds them alike. */
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isLane = (value: unknown): value is Lane => value === 0 || value === 1;

export function parseProduce(args: Args): ProduceArgs | BadArgs {
  const messages = args.messages;
  if (!Array.isArray(messages)) return new BadArgs("q.produce: messages must be an array of [body, key]");
  if (messages.length === 0) return new BadArgs("q.produce: messages is empty");
  const sizesBytes = new Array<number>(messages.length);
  let bytes = 0;
  for (let i = 0; i < messages.length; i += 1) {
    const message: unknown = messages[i];
    if (!Array.isArray(message) || message.length !== 2) return new BadArgs(`q.produce: messages[${i}] must be [body, key]`);
    const [body, key] = message as [unknown, unknown];
    if (typeof body !== "string" && !(body instanceof Uint8Array)) return new BadArgs(`q.produce: messages[${i}] body must be a string or bytes`);
    if (key !== null && typeof key !== "string") return new BadArgs(`q.produce: messages[${i}] key must be a string or null`);
    const size = bodySizeBytes(body);
    sizesBytes[i] = size;
    bytes += size;
  }
  return { messages: messages as ProduceArgs["messages"], sizesBytes, bytes };
}

export function parseConsume(args: Args): ConsumeArgs | BadArgs {
  const { lane, requests, nowMs } = args;
  if (!isLane(lane)) return new BadArgs("q.consume: lane must be 0 or 1");
  if (!isCount(nowMs)) return new BadArgs("q.consume: nowMs must be a non-negative integer");
  if (!Array.isArray(requests)) return new BadArgs("q.consume: requests must be an array of [max, visibilityMs]");
  for (let i = 0; i < requests.length; i += 1) {
    const request: unknown = requests[i];
    if (!Array.isArray(request) || request.length !== 2) return new BadArgs(`q.consume: requests[${i}] must be [max, visibilityMs]`);
    const [max, visibilityMs] = request as [unknown, unknown];
    if (!isCount(max)) return new BadArgs(`q.consume: requests[${i}] max must be a non-negative integer`);
    if (!isCount(visibilityMs)) return new BadArgs(`q.consume: requests[${i}] visibilityMs must be a non-negative integer`);
    if (!Number.isSafeInteger(nowMs + visibilityMs)) return new BadArgs(`q.consume: requests[${i}] visibilityMs is out of range`);
  }
  return { lane, requests: requests as ConsumeArgs["requests"], nowMs };
}

function parseSeqs(op: string, seqs: unknown): readonly number[] | BadArgs {
  if (!Array.isArray(seqs)) return new BadArgs(`${op}: seqs must be an array of integers`);
  for (let i = 0; i < seqs.length; i += 1) {
    if (!Number.isSafeInteger(seqs[i])) return new BadArgs(`${op}: seqs[${i}] must be an integer`);
  }
  return seqs as number[];
}

export function parseAck(args: Args): AckArgs | BadArgs {
  const { lane } = args;
  if (!isLane(lane)) return new BadArgs("q.ack: lane must be 0 or 1");
  const seqs = parseSeqs("q.ack", args.seqs);
  if (seqs instanceof BadArgs) return seqs;
  return { lane, seqs };
}

export function parseNack(args: Args): NackArgs | BadArgs {
  const { lane, delayMs, nowMs } = args;
  if (!isLane(lane)) return new BadArgs("q.nack: lane must be 0 or 1");
  if (!isCount(delayMs)) return new BadArgs("q.nack: delayMs must be a non-negative integer");
  if (!isCount(nowMs)) return new BadArgs("q.nack: nowMs must be a non-negative integer");
  if (!Number.isSafeInteger(nowMs + delayMs)) return new BadArgs("q.nack: delayMs is out of range");
  const seqs = parseSeqs("q.nack", args.seqs);
  if (seqs instanceof BadArgs) return seqs;
  return { lane, seqs, delayMs, nowMs };
}

export function parseTick(args: Args): TickArgs | BadArgs {
  const { nowMs } = args;
  if (!isCount(nowMs)) return new BadArgs("q.tick: nowMs must be a non-negative integer");
  return { nowMs };
}
