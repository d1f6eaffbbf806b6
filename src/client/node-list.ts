// The nodes a client may talk to and the order it tries them in (the role of nats.js's
// servers.ts). Failover walks the list round-robin from the node after the one that failed,
// so a dead node is tried again only after every other node has had its turn.
import { formatAddress, type Address } from "../util/address.ts";
import type { NodeOrder } from "./options.ts";

export class NodeList {
  private readonly nodes: readonly Address[];
  /** Index of the node the next attempt goes to. */
  private cursor: number;

  constructor(nodes: readonly Address[], order: NodeOrder, random: () => number = Math.random) {
    if (nodes.length === 0) throw new Error("NodeList needs at least one node");
    this.nodes = nodes;
    this.cursor = order === "random-start" ? Math.floor(random() * nodes.length) % nodes.length : 0;
  }

  get size(): number {
    return this.nodes.length;
  }

  /** The node to try now; the cursor moves on, so the following call gives the next node. */
  next(): Address {
    const node = this.nodes[this.cursor]!;
    this.cursor = (this.cursor + 1) % this.nodes.length;
    return node;
  }

  describe(): string {
    return this.nodes.map(formatAddress).join(", ");
  }
}
