// The Raft core's public surface. A host (server, simulation) creates one RaftNode per group and
// runs the loop below; nothing in src/raft does I/O, reads a clock or draws unseeded randomness.
//
//   new RaftNode(config: RaftConfig)
//   node.tick(): void                                  — one logical tick (host's timer)
//   node.step(msg: Message): void                      — any message addressed to this node and group
//   node.campaign(): void                              — start an election now (bootstrap, tests)
//   node.propose(data): ProposeResult                  — leader only; {ok, index, term} | NOT_LEADER | UNAVAILABLE
//   node.proposeConfChange({type, node}): ProposeResult — addLearner | promote | remove; CONFLICT when invalid
//                                                        or another change is uncommitted
//   node.readIndex(ctx: number): ReadIndexResult       — answered later as Ready.readStates {ctx, index}
//   node.transferLeadership(to): TransferResult
//   node.compact(index, data): Snapshot | null         — host snapshotted its FSM at applied index
//   node.hasReady(): boolean / node.ready(): Ready / node.advance(ready): void
//   node.status(): RaftStatus                          — includes votingDisabled and leader progress
//   node.logTerm(index): number | null
//
// The host loop, per Ready, in this order:
//   1. persist rd.snapshot (discard the old log), rd.entries (replace the stored suffix from
//      entries[0].index), rd.hardState — durably (fsync) —
//   2. only then send rd.messages (except those isSendableBeforePersist(rd, m) allows to leave
//      before step 1, in parallel with the write: a leader's Appends, thesis §10.2.1),
//   3. restore the state machine from rd.snapshot, apply rd.committed in order (config entries
//      included: decodeConfigEntry gives the membership), answer rd.readStates once applied >= index,
//   4. advance(rd). ready() may not be called again before advance(); tick/step/propose may.
// A pending ReadIndex is dropped when leadership is lost (softState.role changes): fail those reads.

export { RaftNode, isSendableBeforePersist, type RaftStatus, type ProgressStatus } from "./node.ts";
export {
  type RaftConfig,
  type RestoreState,
  type VotingDisabledUntil,
  type TransferResult,
  defaultMaxInflightMsgs,
  defaultMaxEntriesBytesPerMsg,
  defaultMaxUncommittedBytes,
} from "./raft.ts";
export { decodeConfigEntry, encodeConfigEntry, applyConfChange, type ConfigEntryPayload } from "./membership.ts";
export { RaftInvariantError } from "./assert.ts";
export { quorumSize, majorityMatchIndex, tallyVotes } from "./quorum.ts";
export type * from "./types.ts";
