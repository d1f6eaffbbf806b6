// A consistent-hash ring with virtual nodes: each node owns `vnodes` points, a key belongs to
// the first point clockwise from its own hash. A join or leave moves only the keys on the arcs
// that change hands (about 1/N of them). Queue placement walks it to pick replicas; the cache
// asks it for a key's home node. Every node must build the same ring from the same ids, so it
// depends only on the set of ids: sorted by code unit, hashed with a fixed algorithm.

export const DEFAULT_VNODES = 128;

/** xxHash32 over the UTF-8 bytes: the same value on every platform. */
export function ringHash(key: string): number {
  return Bun.hash.xxHash32(key) >>> 0;
}

export class HashRing {
  /** Distinct ids, sorted by code unit (not localeCompare: collation differs between machines). */
  readonly nodes: readonly string[];
  /** Ring points ascending; ties broken by node index, so equal hashes sort the same everywhere. */
  private readonly points: Uint32Array;
  /** Index into `nodes` of each point's owner. */
  private readonly owners: Uint32Array;

  constructor(ids: readonly string[], vnodes: number = DEFAULT_VNODES) {
    if (!Number.isSafeInteger(vnodes) || vnodes < 1) throw new Error(`hash ring: vnodes must be an integer >= 1, got ${vnodes}`);
    const nodes = [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const id of nodes) if (id.length === 0) throw new Error("hash ring: node ids must be non-empty");
    this.nodes = nodes;
    // No two (id, i) share a key: i is all digits, so a key splits back at its last "#".
    const entries: Array<[number, number]> = [];
    nodes.forEach((id, node) => {
      for (let i = 0; i < vnodes; i += 1) entries.push([ringHash(`${id}#${i}`), node]);
    });
    entries.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(entries, (entry) => entry[0]);
    this.owners = Uint32Array.from(entries, (entry) => entry[1]);
  }

  get isEmpty(): boolean {
    return this.nodes.length === 0;
  }

  /** The node owning `key`'s arc; throws on an empty ring. */
  owner(key: string): string {
    if (this.points.length === 0) throw new Error("hash ring: no nodes");
    const at = this.firstPointAtOrAfter(ringHash(key));
    return this.nodes[this.owners[at % this.points.length]!]!;
  }

  /** Every node's index into `nodes`, in the order met walking clockwise from `point`. */
  walk(point: number): number[] {
    const { points, owners } = this;
    const nodeCount = this.nodes.length;
    const start = this.firstPointAtOrAfter(point);
    const seen = new Uint8Array(nodeCount);
    const order: number[] = [];
    for (let step = 0; step < points.length && order.length < nodeCount; step += 1) {
      const node = owners[(start + step) % points.length]!;
      if (seen[node] === 0) {
        seen[node] = 1;
        order.push(node);
      }
    }
    return order;
  }

  private firstPointAtOrAfter(point: number): number {
    const { points } = this;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < point) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
