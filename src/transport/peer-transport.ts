// Connections from this node to every other member, over the members' one port: Raft
// messages of one loop go to each peer as one RAFT.MSG request (coalesced by the client
// library into one write per tick), and client commands are forwarded to a leader over the
// same connection. Nothing is buffered toward a dead or slow peer: while a peer is not
// connected, or has too many batches unanswered, its messages are dropped — Raft resends.
import { SinkronClient } from "../client/client.ts";
import { resolveOptions } from "../client/options.ts";
import type { Message, NodeId } from "../raft/index.ts";
import type { Member } from "../node/config.ts";
import type { Logger } from "../util/log.ts";

export interface PeerTransportOptions {
  selfId: NodeId;
  token: string | null;
  log: Logger;
  /** Unanswered RAFT.MSG batches per peer beyond which new batches are dropped. */
  batchesInflightMax?: number;
  /** Deadline of a forwarded client command. */
  forwardTimeoutMs?: number;
}

export interface PeerTransportStats {
  batchesSent: number;
  messagesSent: number;
  messagesDropped: number;
  batchesFailed: number;
}

interface Peer {
  id: NodeId;
  address: string;
  client: SinkronClient;
  batchesInflight: number;
}

const BATCHES_INFLIGHT_MAX_DEFAULT = 64;
/** Effectively forever: a peer client keeps reconnecting until the member is removed. */
const CONNECT_FOREVER_MS = 0x7fff_ffff;

export class PeerTransport {
  private readonly peers = new Map<NodeId, Peer>();
  private readonly counters: PeerTransportStats = { batchesSent: 0, messagesSent: 0, messagesDropped: 0, batchesFailed: 0 };
  private readonly batchesInflightMax: number;

  constructor(private readonly options: PeerTransportOptions) {
    this.batchesInflightMax = options.batchesInflightMax ?? BATCHES_INFLIGHT_MAX_DEFAULT;
  }

  /** Opens connections to members not yet known, closes those no longer listed. */
  setMembers(members: readonly Member[]): void {
    const wanted = new Map(members.filter((m) => m.id !== this.options.selfId).map((m) => [m.id, m.address]));
    for (const [id, peer] of this.peers) {
      if (wanted.get(id) !== peer.address) {
        void peer.client.close();
        this.peers.delete(id);
      }
    }
    for (const [id, address] of wanted) if (!this.peers.has(id)) this.peers.set(id, this.openPeer(id, address));
  }

  /** The client connected (or connecting) to member `id`, for forwarding commands. */
  client(id: NodeId): SinkronClient | null {
    return this.peers.get(id)?.client ?? null;
  }

  send(messages: Message[]): void {
    const byPeer = new Map<NodeId, Message[]>();
    for (const m of messages) {
      let list = byPeer.get(m.to);
      if (!list) byPeer.set(m.to, (list = []));
      list.push(m);
    }
    for (const [to, batch] of byPeer) {
      const peer = this.peers.get(to);
      if (peer === undefined || peer.client.state !== "connected" || peer.batchesInflight >= this.batchesInflightMax) {
        this.counters.messagesDropped += batch.length;
        continue;
      }
      peer.batchesInflight++;
      this.counters.batchesSent++;
      this.counters.messagesSent += batch.length;
      peer.client.call("RAFT.MSG", { from: this.options.selfId, msgs: batch }).then(
        () => peer.batchesInflight--,
        (error: Error) => {
          peer.batchesInflight--;
          this.counters.batchesFailed++;
          this.options.log.debug("raft batch not delivered", { to, error });
        },
      );
    }
  }

  stats(): PeerTransportStats & { peers: Record<NodeId, string> } {
    const peers: Record<NodeId, string> = {};
    for (const [id, peer] of this.peers) peers[id] = peer.client.state;
    return { ...this.counters, peers };
  }

  async close(): Promise<void> {
    await Promise.all([...this.peers.values()].map((p) => p.client.close()));
    this.peers.clear();
  }

  private openPeer(id: NodeId, address: string): Peer {
    const client = new SinkronClient(
      resolveOptions({
        nodes: [address],
        token: this.options.token ?? undefined,
        name: `peer:${this.options.selfId}`,
        peer: this.options.selfId,
        nodeOrder: "in-order",
        connectTimeoutMs: CONNECT_FOREVER_MS,
        attemptTimeoutMs: 1000,
        requestTimeoutMs: this.options.forwardTimeoutMs ?? 5000,
        reconnect: { backoffMsMin: 20, backoffMsMax: 500 },
      }),
    );
    client.start().catch((error: Error) => this.options.log.warn("peer client stopped", { peer: id, error }));
    return { id, address, client, batchesInflight: 0 };
  }
}
