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
  /** Sent in the peer HELLO (see NodeConfig.clusterSecret). */
  clusterSecret?: string | null;
  log: Logger;
  /** Unanswered RAFT.MSG batches per peer beyond which new batches are dropped. */
  batchesInflightMax?: number;
  /** Deadline of a forwarded client command. */
  forwardTimeoutMs?: number;
  /** The members' frame limit for peers (their server's peerFrameBytesMax). */
  frameBytesMax?: number;
  /** The connection member `id` opened to us, if any: Raft messages to it go as pushes there. */
  inbound?: (id: NodeId) => PushTarget | undefined;
  /** Raft messages pushed to us by member `from` on the connection we opened to it. */
  onRaftPush?: (from: NodeId, msgs: unknown) => void;
}

/** What the transport needs of a server connection to push to a member over it. */
export interface PushTarget {
  readonly outboundBytes: number;
  pushNow(kind: string, value: unknown): void;
}

/** Push kind of Raft traffic; the same name as the request, one-way. */
export const RAFT_PUSH_KIND = "RAFT.MSG";
/** Unsent bytes on a member's connection above which Raft pushes to it are dropped (Raft resends). */
const PUSH_OUTBOUND_BYTES_MAX = 16 * 1024 * 1024;

/** A RAFT.MSG batch is cut at about this size, so one loop's traffic to a slow peer is many frames. */
export const BATCH_BYTES_TARGET = 4 * 1024 * 1024;
/** Per message and per entry: the envelope's keys and numbers, estimated generously. */
const MESSAGE_OVERHEAD_BYTES = 128;
const ENTRY_OVERHEAD_BYTES = 48;

function estimatedBytes(message: Message): number {
  switch (message.type) {
    case "Append": {
      let bytes = MESSAGE_OVERHEAD_BYTES;
      for (const entry of message.entries) bytes += ENTRY_OVERHEAD_BYTES + entry.data.byteLength;
      return bytes;
    }
    case "Snapshot":
      return MESSAGE_OVERHEAD_BYTES + message.snapshot.data.byteLength;
    default:
      return MESSAGE_OVERHEAD_BYTES;
  }
}

/** Splits one peer's messages into batches of about BATCH_BYTES_TARGET (a bigger message goes alone). */
function splitBatches(messages: Message[]): Message[][] {
  const batches: Message[][] = [];
  let batch: Message[] = [];
  let bytes = 0;
  for (const message of messages) {
    const size = estimatedBytes(message);
    if (batch.length > 0 && bytes + size > BATCH_BYTES_TARGET) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(message);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

export interface PeerTransportStats {
  batchesSent: number;
  /** Batches sent one-way as pushes on the member's own connection to us. */
  batchesPushed: number;
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
  private readonly counters: PeerTransportStats = { batchesSent: 0, batchesPushed: 0, messagesSent: 0, messagesDropped: 0, batchesFailed: 0 };
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
    for (const [to, messages] of byPeer) {
      for (const batch of splitBatches(messages)) this.sendBatch(to, batch);
    }
  }

  private sendBatch(to: NodeId, batch: Message[]): void {
    // One-way when the member is connected to us: a push needs no answer, which halves the
    // frames and wake-ups per replication round compared with a RAFT.MSG request and its reply.
    const inbound = this.options.inbound?.(to);
    if (inbound !== undefined) {
      if (inbound.outboundBytes > PUSH_OUTBOUND_BYTES_MAX) {
        this.counters.messagesDropped += batch.length;
        return;
      }
      this.counters.batchesPushed++;
      this.counters.messagesSent += batch.length;
      inbound.pushNow(RAFT_PUSH_KIND, { from: this.options.selfId, msgs: batch });
      return;
    }
    const peer = this.peers.get(to);
    if (peer === undefined || peer.client.state !== "connected" || peer.batchesInflight >= this.batchesInflightMax) {
      this.counters.messagesDropped += batch.length;
      return;
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
    // Now, not at the end of the tick: the host may block on an fsync next (a leader's
    // Appends leave before its own write, thesis §10.2.1), and the peer should work meanwhile.
    peer.client.flush();
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
        secret: this.options.clusterSecret ?? undefined,
        name: `peer:${this.options.selfId}`,
        peer: this.options.selfId,
        nodeOrder: "in-order",
        connectTimeoutMs: CONNECT_FOREVER_MS,
        attemptTimeoutMs: 1000,
        requestTimeoutMs: this.options.forwardTimeoutMs ?? 5000,
        reconnect: { backoffMsMin: 20, backoffMsMax: 500 },
        frameBytesMax: this.options.frameBytesMax,
      }),
    );
    client.onPush((push) => {
      if (push.kind === RAFT_PUSH_KIND) this.options.onRaftPush?.(id, (push.value as { msgs?: unknown } | null)?.msgs);
    });
    client.start().catch((error: Error) => this.options.log.warn("peer client stopped", { peer: id, error }));
    return { id, address, client, batchesInflight: 0 };
  }
}
