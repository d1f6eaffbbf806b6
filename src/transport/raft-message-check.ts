// Checks the shape of Raft messages arriving from the network before they reach the core.
// The core asserts its invariants and crashes on a violation (a bug must not become data), so
// a malformed message — from a buggy or mismatched peer — is refused here instead, as a value.
import type { Message, MessageType } from "../raft/index.ts";

const MESSAGE_TYPES: ReadonlySet<string> = new Set<MessageType>([
  "PreVote", "PreVoteResp", "Vote", "VoteResp", "Append", "AppendResp", "Heartbeat", "HeartbeatResp", "Snapshot", "TimeoutNow",
]);
const ENTRY_TYPES: ReadonlySet<string> = new Set(["normal", "config", "noop"]);

/**
 * Terms and indexes from the network stay far below 2^53: a forged term near the top would be
 * adopted, persisted, and then refused by every peer forever (no election could ever succeed).
 * 2^48 indexes is ~9,000 years at a million entries per second.
 */
export const TERM_OR_INDEX_MAX = 2 ** 48;
const isIndex = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= TERM_OR_INDEX_MAX;
const isId = (v: unknown): v is string => typeof v === "string" && v.length > 0 && v.length <= 64;
const isMap = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v) && !ArrayBuffer.isView(v);

/** Returns null when `value` is a well-formed message for `self`, else what is wrong. */
export function checkRaftMessage(value: unknown, self: string, from: string): string | null {
  if (!isMap(value)) return "not a map";
  const m = value;
  if (typeof m.type !== "string" || !MESSAGE_TYPES.has(m.type)) return `unknown type ${String(m.type)}`;
  if (!isIndex(m.group)) return "bad group";
  if (m.to !== self) return `addressed to ${String(m.to)}, not ${self}`;
  if (m.from !== from) return `from ${String(m.from)} on the connection of ${from}`;
  if (!isIndex(m.term)) return "bad term";
  switch (m.type as MessageType) {
    case "PreVote":
    case "Vote":
      if (!isIndex(m.lastIndex) || !isIndex(m.lastTerm)) return "bad lastIndex/lastTerm";
      if (m.type === "Vote" && typeof m.transfer !== "boolean") return "bad transfer";
      return null;
    case "PreVoteResp":
    case "VoteResp":
      return typeof m.reject === "boolean" ? null : "bad reject";
    case "Append":
      if (!isIndex(m.prevIndex) || !isIndex(m.prevTerm) || !isIndex(m.commit)) return "bad prevIndex/prevTerm/commit";
      if (!Array.isArray(m.entries)) return "bad entries";
      // Log Matching needs entry terms that never decrease and never exceed the sender's term
      // (Raft paper §5.3); anything else cannot come from a correct leader.
      let previousTerm = m.prevTerm;
      for (let i = 0; i < m.entries.length; i++) {
        const e = m.entries[i] as Record<string, unknown>;
        if (!isMap(e) || !isIndex(e.index) || !isIndex(e.term) || typeof e.type !== "string" || !ENTRY_TYPES.has(e.type) || !(e.data instanceof Uint8Array)) {
          return `bad entry ${i}`;
        }
        if (e.index !== m.prevIndex + 1 + i) return "entries are not contiguous after prevIndex";
        if (e.term < 1 || e.term < previousTerm || e.term > m.term) return `entry ${i} has term ${e.term}, outside ${previousTerm}..${m.term}`;
        previousTerm = e.term;
      }
      if (m.prevTerm > m.term) return "prevTerm above the message term";
      return null;
    case "AppendResp":
      if (typeof m.reject !== "boolean" || !isIndex(m.index) || !isIndex(m.hintIndex) || !isIndex(m.hintTerm)) return "bad AppendResp";
      return null;
    case "Heartbeat":
      return isIndex(m.commit) && isIndex(m.ctx) ? null : "bad Heartbeat";
    case "HeartbeatResp":
      return isIndex(m.ctx) ? null : "bad HeartbeatResp";
    case "Snapshot": {
      const s = m.snapshot as Record<string, unknown>;
      if (!isMap(s) || !isIndex(s.index) || !isIndex(s.term) || !(s.data instanceof Uint8Array)) return "bad snapshot";
      if (s.index < 1 || s.term < 1 || s.term > m.term) return "snapshot index/term out of range";
      const c = s.config as Record<string, unknown>;
      if (!isMap(c) || !Array.isArray(c.voters) || !Array.isArray(c.learners) || ![...c.voters, ...c.learners].every(isId)) return "bad snapshot config";
      return null;
    }
    case "TimeoutNow":
      return null;
  }
}

export function asRaftMessage(value: unknown): Message {
  return value as Message;
}
