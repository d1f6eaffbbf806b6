// Takes dead nodes out of the cache ring and puts them back, so a dead node's keys get a live
// home (misses and writes of those keys fail only until then). Group 0's leader watches whether
// it hears from each member (Raft's recent-activity flag, set by every answer to its heartbeats)
// and proposes `member.ring {id, down}` after `downAfterMs` of silence, or as soon as a down
// member answers again. Being a log entry, the change is one new epoch everywhere, fenced like
// any ring change (README.md, "Membership changes"): no stale read while homes move.
import type { MemberMachine } from "../node/member-machine.ts";
import type { RaftGroup } from "../replication/raft-group.ts";
import type { Logger } from "../util/log.ts";

export interface RingHealthOptions {
  selfId: string;
  group: RaftGroup;
  members: MemberMachine;
  /** Silence after which a member leaves the ring. */
  downAfterMs: number;
  /** How often the leader looks. */
  checkMs: number;
  log: Logger;
}

export class RingHealth {
  /** When this leader last saw each member active; reset on every new term of leadership. */
  private readonly lastActiveMs = new Map<string, number>();
  private leaderTerm = -1;
  private timer: ReturnType<typeof setInterval> | null = null;
  private proposing = false;

  constructor(private readonly options: RingHealthOptions) {}

  start(): void {
    this.timer = setInterval(() => this.check(performance.now()), this.options.checkMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  private check(nowMs: number): void {
    const { group, members, selfId, downAfterMs } = this.options;
    if (!group.isLeader || this.proposing) return;
    const status = group.raft.status();
    if (status.term !== this.leaderTerm) {
      // A new leader has no history: everyone gets the full grace period.
      this.leaderTerm = status.term;
      this.lastActiveMs.clear();
    }
    for (const { id } of members.list()) {
      if (id === selfId) continue;
      if (status.progress?.[id]?.isRecentActive === true || !this.lastActiveMs.has(id)) this.lastActiveMs.set(id, nowMs);
      const silentMs = nowMs - this.lastActiveMs.get(id)!;
      const down = members.isRingDown(id);
      if (down !== silentMs > downAfterMs) {
        this.propose(id, !down, silentMs);
        return;
      }
    }
  }

  private propose(id: string, down: boolean, silentMs: number): void {
    this.proposing = true;
    this.options.log.info(down ? "member leaves the cache ring (silent)" : "member rejoins the cache ring", { id, silentMs: Math.round(silentMs) });
    this.options.group
      .propose({ op: "member.ring", args: { id, down }, rid: null })
      .catch((error: Error) => this.options.log.debug("cache ring change not proposed", { id, error }))
      .finally(() => (this.proposing = false));
  }
}
