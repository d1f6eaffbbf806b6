// Types of the core commands every node answers (DESIGN.md "Core commands"): HELLO, PING,
// STATUS. The client's own methods for them live on SinkronClient.

/** What HELLO answers: who we are talking to. */
export type HelloResult = {
  server: string;
  version: number;
  node: string;
  role: string;
};

export type Member = {
  id: string;
  /** null when a member's address is not known to the answering node yet. */
  address: string | null;
  role: "voter" | "learner";
};

/** STATUS: this node's view of the cluster; nodes add fields (durability, raft, transport, server). */
export type NodeStatus = {
  node: string;
  role: string;
  term: number;
  leader: string | null;
  commitIndex: number;
  appliedIndex: number;
  members: Member[];
  [extra: string]: unknown;
};
