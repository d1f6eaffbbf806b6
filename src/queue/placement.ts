// Where a queue's partitions live: each partition is its own Raft group, and this decides which
// nodes hold its replicas and which of them should lead. Every node computes the layout on its
// own, so it must be a pure function of (queue, partitions, replicas, set of node ids): no
// randomness, no locale-dependent ordering, nothing that depends on the order ids arrive in.
//
// Consistent hashing with virtual nodes keeps a join or leave cheap (about 1/N of the replicas
// move), but on its own only spreads load evenly in expectation, and with a few dozen partitions
// per queue the variance is large. So loads are bounded as in Mirrokni, Thorup, Zadimoghaddam,
// "Consistent Hashing with Bounded Loads" (SODA 2018): a partition walks clockwise from its ring
// point and passes over nodes that are already full. Leaders use the tightest bound (every node
// leads floor(P/N) or ceil(P/N) partitions), replicas the bound ceil(P*R/N) per node.
//
// The walk alone can paint itself into a corner with replicas: a partition still needs a
// replica, and the only nodes with room already hold one of its replicas. Then an earlier
// partition hands over one of its followers and takes a node with room instead (an augmenting
// path, found breadth-first). Given balanced leaders such a path always exists: by the
// max-flow min-cut theorem the followers fit iff for every k < R, (N-k)*ceil(P*R/N) + P*k >= P*R,
// which holds since ceil(P*R/N) >= P*R/N and k < R <= N.
import { DEFAULT_VNODES, HashRing, ringHash } from "../util/hash-ring.ts";

export interface PartitionPlacement {
  partition: number;
  /** Distinct node ids; replicas[0] is the preferred leader, the rest in ring order. */
  replicas: string[];
}

export interface PlacementArgs {
  queue: string;
  partitions: number;
  /** Clamped to the number of distinct nodes. */
  replicas: number;
  nodes: readonly string[];
  /** Ring points per node; more points, smoother arcs, slower ring build. */
  vnodes?: number;
}

export { DEFAULT_VNODES };

export function placePartitions(args: PlacementArgs): PartitionPlacement[] {
  const { queue, partitions } = args;
  const vnodes = args.vnodes ?? DEFAULT_VNODES;
  if (!Number.isSafeInteger(partitions) || partitions < 1) {
    throw new Error(`placement: partitions must be an integer >= 1, got ${partitions}`);
  }
  if (!Number.isSafeInteger(args.replicas) || args.replicas < 1) {
    throw new Error(`placement: replicas must be an integer >= 1, got ${args.replicas}`);
  }
  if (!Number.isSafeInteger(vnodes) || vnodes < 1) throw new Error(`placement: vnodes must be an integer >= 1, got ${vnodes}`);
  if (args.nodes.length === 0) throw new Error("placement: at least one node is required");
  for (const id of args.nodes) if (id.length === 0) throw new Error("placement: node ids must be non-empty");
  const ring = new HashRing(args.nodes, vnodes);
  const nodes = ring.nodes;

  const nodeCount = nodes.length;
  const replicas = Math.min(args.replicas, nodeCount);
  const preference = Array.from({ length: partitions }, (_, p) => ring.walk(ringHash(`${queue}/${p}`)));
  const assigned: number[][] = preference.map(() => []);

  // Leaders: at most `extraLeaders` nodes may go one above floor(P/N); whichever node reaches it
  // first keeps it. Some node always has room, or the P leaderships would already be handed out.
  const baseLeaders = Math.floor(partitions / nodeCount);
  const extraLeaders = partitions % nodeCount;
  const leads = new Array<number>(nodeCount).fill(0);
  let nodesAboveBase = 0;
  for (let p = 0; p < partitions; p += 1) {
    for (const node of preference[p]!) {
      const count = leads[node]!;
      if (count < baseLeaders || (count === baseLeaders && nodesAboveBase < extraLeaders)) {
        if (count === baseLeaders) nodesAboveBase += 1;
        leads[node] = count + 1;
        assigned[p]!.push(node);
        break;
      }
    }
  }

  const capacity = Math.ceil((partitions * replicas) / nodeCount);
  const load = leads.slice();
  for (let p = 0; p < partitions; p += 1) {
    const mine = assigned[p]!;
    for (const node of preference[p]!) {
      if (mine.length === replicas) break;
      if (load[node]! < capacity && !mine.includes(node)) {
        mine.push(node);
        load[node] = load[node]! + 1;
      }
    }
    while (mine.length < replicas) augment(p, assigned, preference, load, capacity);
  }

  return assigned.map((held, p) => {
    const rank = preference[p]!;
    const followers = held.slice(1).sort((a, b) => rank.indexOf(a) - rank.indexOf(b));
    return { partition: p, replicas: [held[0]!, ...followers].map((node) => nodes[node]!) };
  });
}

/**
 * Gives partition `p` one more replica when every node with room already holds one of its
 * replicas: p takes a full node X1 from an earlier partition's followers, which takes X2 from
 * another's, ..., until some partition takes a node with room. Leaders are never moved, so the
 * leader balance stays exact; only the node at the end of the path gains load.
 */
function augment(p: number, assigned: number[][], preference: readonly number[][], load: number[], capacity: number): void {
  const reachedVia = new Map<number, { from: number; partition: number } | null>();
  const frontier: number[] = [];
  for (const node of preference[p]!) {
    if (!assigned[p]!.includes(node)) {
      reachedVia.set(node, null);
      frontier.push(node);
    }
  }
  for (let head = 0; head < frontier.length; head += 1) {
    const node = frontier[head]!;
    if (load[node]! < capacity) {
      load[node] = load[node]! + 1;
      let current = node;
      for (let via = reachedVia.get(current); via; via = reachedVia.get(current)) {
        const held = assigned[via.partition]!;
        held[held.indexOf(via.from)] = current;
        current = via.from;
      }
      assigned[p]!.push(current);
      return;
    }
    // Partitions after p hold nothing yet, and p itself is never needed on a shortest path.
    for (let q = 0; q < p; q += 1) {
      const held = assigned[q]!;
      if (held.indexOf(node) < 1) continue;
      for (const next of preference[q]!) {
        if (reachedVia.has(next) || held.includes(next)) continue;
        reachedVia.set(next, { from: node, partition: q });
        frontier.push(next);
      }
    }
  }
  // Unreachable given balanced leaders (see the feasibility argument at the top of this file).
  throw new Error(`placement: no room for another replica of partition ${p}`);
}
