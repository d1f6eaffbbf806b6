// Types of the core commands every node answers (DESIGN.md "Core commands"): HELLO, PING,
// STATUS. The client's own methods for them live on SinkronClient.
import type { MemberInfo, StatusResult } from "../protocol/commands.ts";

/** What HELLO answers: who we are talking to. */
export type HelloResult = {
  server: string;
  version: number;
  node: string;
  role: string;
};

export type Member = MemberInfo;

/** STATUS: this node's view of the cluster; nodes add fields (durability, raft, transport, server). */
export type NodeStatus = StatusResult;
