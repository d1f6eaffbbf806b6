// Partition placement: a pure function of its inputs, balanced exactly where the bounds say, and
// stable under membership change (about 1/N of the replica slots move, where a naive rehash
// moves most of them). The movement fractions are printed so regressions show up as numbers.
import { describe, expect, test } from "bun:test";
import { placePartitions, type PartitionPlacement } from "../../src/queue/placement.ts";
import { seededRandom } from "../../src/util/prng.ts";

const nodeIds = (count: number, prefix = "node-") => Array.from({ length: count }, (_, i) => `${prefix}${i + 1}`);

function counts(layout: PartitionPlacement[], nodes: readonly string[], leadersOnly: boolean): number[] {
  const tally = new Map(nodes.map((id) => [id, 0]));
  for (const { replicas } of layout) {
    for (const id of leadersOnly ? replicas.slice(0, 1) : replicas) tally.set(id, tally.get(id)! + 1);
  }
  return [...tally.values()];
}

/** Replica slots in `after` whose node did not hold that partition `before`, over all slots. */
function movedFraction(before: PartitionPlacement[], after: PartitionPlacement[]): number {
  let moved = 0;
  let slots = 0;
  after.forEach(({ replicas }, p) => {
    const old = new Set(before[p]!.replicas);
    for (const id of replicas) if (!old.has(id)) moved += 1;
    slots += replicas.length;
  });
  return moved / slots;
}

function leaderMovedFraction(before: PartitionPlacement[], after: PartitionPlacement[]): number {
  return after.filter(({ replicas }, p) => replicas[0] !== before[p]!.replicas[0]).length / after.length;
}

/** The strawman: hash mod N picks the leader, followers are the next ids in sorted order. */
function naivePlacement(queue: string, partitions: number, replicas: number, nodes: readonly string[]): PartitionPlacement[] {
  const sorted = [...nodes].sort();
  return Array.from({ length: partitions }, (_, p) => {
    const start = Bun.hash.xxHash32(`${queue}/${p}`) % sorted.length;
    const picked = Array.from({ length: Math.min(replicas, sorted.length) }, (_, i) => sorted[(start + i) % sorted.length]!);
    return { partition: p, replicas: picked };
  });
}

describe("shape and determinism", () => {
  test("partitions numbered 0..P-1, replicas distinct, min(R, N) of them, all known nodes", () => {
    for (let n = 1; n <= 7; n += 1) {
      const nodes = nodeIds(n);
      for (const r of [1, 2, 3, 5]) {
        const layout = placePartitions({ queue: "orders", partitions: 12, replicas: r, nodes });
        expect(layout.map((entry) => entry.partition)).toEqual(Array.from({ length: 12 }, (_, i) => i));
        for (const { replicas } of layout) {
          expect(replicas.length).toBe(Math.min(r, n));
          expect(new Set(replicas).size).toBe(replicas.length);
          for (const id of replicas) expect(nodes).toContain(id);
        }
      }
    }
  });

  test("same inputs give the same layout; node order and duplicates do not matter", () => {
    const nodes = ["b", "a", "e", "c", "d"];
    const base = placePartitions({ queue: "q", partitions: 30, replicas: 3, nodes });
    expect(placePartitions({ queue: "q", partitions: 30, replicas: 3, nodes })).toEqual(base);
    const rng = seededRandom(7);
    for (let trial = 0; trial < 20; trial += 1) {
      const shuffled = [...nodes, ...nodes.slice(0, 2)];
      for (let i = shuffled.length - 1; i > 0; i -= 1) {
        const j = Math.floor(rng() * (i + 1));
        [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
      }
      expect(placePartitions({ queue: "q", partitions: 30, replicas: 3, nodes: shuffled })).toEqual(base);
    }
  });

  test("layout is pinned: the hash and tie-breaks must not drift between versions", () => {
    // Every node must agree with every other, including ones running an older build, so a
    // change here is a protocol change, not a refactor.
    const layout = placePartitions({ queue: "pinned", partitions: 4, replicas: 2, nodes: ["n1", "n2", "n3"] });
    expect(layout).toEqual([
      { partition: 0, replicas: ["n3", "n1"] },
      { partition: 1, replicas: ["n3", "n2"] },
      { partition: 2, replicas: ["n1", "n3"] },
      { partition: 3, replicas: ["n2", "n1"] },
    ]);
  });

  test("different queues get different layouts", () => {
    const nodes = nodeIds(5);
    const leadersOfPartitionZero = new Set<string>();
    const layouts = new Set<string>();
    for (let i = 0; i < 20; i += 1) {
      const layout = placePartitions({ queue: `queue-${i}`, partitions: 8, replicas: 3, nodes });
      leadersOfPartitionZero.add(layout[0]!.replicas[0]!);
      layouts.add(JSON.stringify(layout));
    }
    expect(leadersOfPartitionZero.size).toBeGreaterThan(1);
    expect(layouts.size).toBe(20);
  });

  test("rejects bad arguments with a message", () => {
    const ok = { queue: "q", partitions: 4, replicas: 2, nodes: ["a", "b"] };
    expect(() => placePartitions({ ...ok, partitions: 0 })).toThrow(/partitions/);
    expect(() => placePartitions({ ...ok, partitions: 1.5 })).toThrow(/partitions/);
    expect(() => placePartitions({ ...ok, replicas: 0 })).toThrow(/replicas/);
    expect(() => placePartitions({ ...ok, nodes: [] })).toThrow(/node/);
    expect(() => placePartitions({ ...ok, nodes: ["a", ""] })).toThrow(/node/);
    expect(() => placePartitions({ ...ok, vnodes: 0 })).toThrow(/vnodes/);
  });
});

describe("balance", () => {
  test("leaders differ by at most 1 and replica load stays within ceil(P*R/N), N 1..7, P 1..40, R 1..3", () => {
    for (let n = 1; n <= 7; n += 1) {
      const nodes = nodeIds(n);
      for (let p = 1; p <= 40; p += 1) {
        for (let r = 1; r <= 3; r += 1) {
          const layout = placePartitions({ queue: `q${p}`, partitions: p, replicas: r, nodes, vnodes: 64 });
          const leaders = counts(layout, nodes, true);
          expect(Math.max(...leaders) - Math.min(...leaders)).toBeLessThanOrEqual(1);
          const loads = counts(layout, nodes, false);
          expect(Math.max(...loads)).toBeLessThanOrEqual(Math.ceil((p * Math.min(r, n)) / n));
          for (const { replicas } of layout) expect(new Set(replicas).size).toBe(Math.min(r, n));
        }
      }
    }
  });

  test("bounds hold for wider replica counts and odd node names (exercises the repair path)", () => {
    const rng = seededRandom(2024);
    for (let trial = 0; trial < 150; trial += 1) {
      const n = 1 + Math.floor(rng() * 10);
      const p = 1 + Math.floor(rng() * 64);
      const r = 1 + Math.floor(rng() * 6);
      const nodes = Array.from({ length: n }, () => `host-${Math.floor(rng() * 1e6)}:7000`);
      const distinct = new Set(nodes).size;
      const layout = placePartitions({ queue: `t${trial}`, partitions: p, replicas: r, nodes, vnodes: 32 });
      const leaders = counts(layout, [...new Set(nodes)], true);
      expect(Math.max(...leaders) - Math.min(...leaders)).toBeLessThanOrEqual(1);
      const loads = counts(layout, [...new Set(nodes)], false);
      expect(Math.max(...loads)).toBeLessThanOrEqual(Math.ceil((p * Math.min(r, distinct)) / distinct));
      for (const { replicas } of layout) expect(new Set(replicas).size).toBe(Math.min(r, distinct));
    }
  });
});

describe("movement on membership change", () => {
  const queue = "events";
  const [P, R] = [60, 3];
  const three = nodeIds(3);
  const four = nodeIds(4);
  const layout3 = placePartitions({ queue, partitions: P, replicas: R, nodes: three });
  const layout4 = placePartitions({ queue, partitions: P, replicas: R, nodes: four });
  const joinMoved = movedFraction(layout3, layout4);
  const leaveMoved = movedFraction(layout4, layout3);
  const naiveJoin = movedFraction(naivePlacement(queue, P, R, three), naivePlacement(queue, P, R, four));

  test(`P=60 R=3: a 4th node joining 3 moves ${joinMoved.toFixed(3)} of replica slots (naive rehash ${naiveJoin.toFixed(3)})`, () => {
    console.log(`join 3->4: replicas moved ${joinMoved.toFixed(3)}, leaders moved ${leaderMovedFraction(layout3, layout4).toFixed(3)}`);
    expect(joinMoved).toBeLessThanOrEqual(0.5);
    // With R = N = 3 everyone held everything, so exactly the newcomer's share must move.
    expect(joinMoved).toBeCloseTo(0.25, 5);
  });

  test(`P=60 R=3: one of 4 nodes leaving moves ${leaveMoved.toFixed(3)} of replica slots`, () => {
    console.log(`leave 4->3: replicas moved ${leaveMoved.toFixed(3)}, leaders moved ${leaderMovedFraction(layout4, layout3).toFixed(3)}`);
    expect(leaveMoved).toBeLessThanOrEqual(0.5);
  });

  // With N > R the ring, not the arithmetic, decides what moves: the real test of stability.
  const wider: Array<[number, number]> = [
    [5, 6],
    [6, 5],
    [7, 8],
    [8, 7],
  ];
  for (const [from, to] of wider) {
    const before = placePartitions({ queue, partitions: P, replicas: R, nodes: nodeIds(from) });
    const after = placePartitions({ queue, partitions: P, replicas: R, nodes: nodeIds(to) });
    const moved = movedFraction(before, after);
    const naive = movedFraction(naivePlacement(queue, P, R, nodeIds(from)), naivePlacement(queue, P, R, nodeIds(to)));
    test(`P=60 R=3: ${from}->${to} nodes moves ${moved.toFixed(3)} of replica slots (ideal ~${(1 / Math.max(from, to)).toFixed(3)}, naive ${naive.toFixed(3)})`, () => {
      console.log(`${from}->${to}: replicas moved ${moved.toFixed(3)}, leaders moved ${leaderMovedFraction(before, after).toFixed(3)}, naive ${naive.toFixed(3)}`);
      expect(moved).toBeLessThanOrEqual(0.5);
      expect(moved).toBeLessThan(naive);
    });
  }

  test("a node leaving only reassigns replicas it held, plus bounded spill-over", () => {
    const nodes = nodeIds(6);
    const before = placePartitions({ queue, partitions: P, replicas: R, nodes });
    const after = placePartitions({ queue, partitions: P, replicas: R, nodes: nodes.slice(0, 5) });
    const lost = before.reduce((sum, { replicas }) => sum + (replicas.includes("node-6") ? 1 : 0), 0);
    const moved = movedFraction(before, after) * P * R;
    // Every slot node-6 held must be refilled; the bounded loads may push a few more around.
    expect(moved).toBeGreaterThanOrEqual(lost);
    expect(moved).toBeLessThanOrEqual(2 * lost);
  });
});
