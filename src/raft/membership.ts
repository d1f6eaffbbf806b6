// Membership as a value: the full configuration each config entry carries, and the one-server-at-a-
// time transitions between them (thesis §4.1). Encoding is canonical (sorted ids, fixed key order)
// so every replica derives byte-identical entries and snapshots.

import type { ClusterConfig, ConfChange, NodeId } from "./types.ts";

/** The payload of a "config" entry: the whole resulting configuration plus the change that made it. */
export interface ConfigEntryPayload {
  config: ClusterConfig;
  change: ConfChange | null;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function normalizeConfig(voters: Iterable<NodeId>, learners: Iterable<NodeId>): ClusterConfig {
  const voterList = [...new Set(voters)].sort();
  const voterSet = new Set(voterList);
  const learnerList = [...new Set(learners)].filter((id) => !voterSet.has(id)).sort();
  return { voters: voterList, learners: learnerList };
}

export function cloneConfig(config: ClusterConfig): ClusterConfig {
  return { voters: [...config.voters], learners: [...config.learners] };
}

export function encodeConfigEntry(payload: ConfigEntryPayload): Uint8Array {
  const change = payload.change === null ? null : { type: payload.change.type, node: payload.change.node };
  return encoder.encode(JSON.stringify({ voters: payload.config.voters, learners: payload.config.learners, change }));
}

export function decodeConfigEntry(data: Uint8Array): ConfigEntryPayload {
  const raw: unknown = JSON.parse(decoder.decode(data));
  if (typeof raw !== "object" || raw === null) throw new Error("config entry: not an object");
  const record = raw as Record<string, unknown>;
  const voters = record["voters"];
  const learners = record["learners"];
  if (!isStringArray(voters) || !isStringArray(learners)) throw new Error("config entry: bad member lists");
  const changeRaw = record["change"];
  let change: ConfChange | null = null;
  if (changeRaw !== null && typeof changeRaw === "object") {
    const c = changeRaw as Record<string, unknown>;
    const type = c["type"];
    const node = c["node"];
    if ((type === "addLearner" || type === "promote" || type === "remove") && typeof node === "string") {
      change = { type, node };
    }
  }
  return { config: normalizeConfig(voters, learners), change };
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}

export type ConfChangeOutcome = { ok: true; config: ClusterConfig } | { ok: false; message: string };

/**
 * The configuration after `change`, or why it is refused. A server joins as a learner and is
 * promoted only later, so a new voter never stalls commits while it catches up (thesis §4.2.1).
 */
export function applyConfChange(config: ClusterConfig, change: ConfChange): ConfChangeOutcome {
  const isVoter = config.voters.includes(change.node);
  const isLearner = config.learners.includes(change.node);
  switch (change.type) {
    case "addLearner":
      if (isVoter || isLearner) return { ok: false, message: `${change.node} is already a member` };
      return { ok: true, config: normalizeConfig(config.voters, [...config.learners, change.node]) };
    case "promote":
      if (!isLearner) return { ok: false, message: `${change.node} is not a learner` };
      return {
        ok: true,
        config: normalizeConfig([...config.voters, change.node], config.learners.filter((id) => id !== change.node)),
      };
    case "remove":
      if (!isVoter && !isLearner) return { ok: false, message: `${change.node} is not a member` };
      if (isVoter && config.voters.length === 1) return { ok: false, message: "cannot remove the last voter" };
      return {
        ok: true,
        config: normalizeConfig(
          config.voters.filter((id) => id !== change.node),
          config.learners.filter((id) => id !== change.node),
        ),
      };
  }
}
