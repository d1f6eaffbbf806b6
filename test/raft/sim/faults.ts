// The faults the Raft simulation and the queue simulation inject alike: each seed's weather
// (network faults, crash, partition and slow-disk rates) and Raft flow limits, node crashes, and
// random partitions that heal after a while. Both simulations replay a run from its seed, so every
// function here makes the same PRNG draws, in the same order, as the code it replaced.

import type { NodeId, RaftConfig } from "../../../src/raft/index.ts";
import type { SimEvents } from "./events.ts";
import type { NetworkFaults, SimNetwork } from "./network.ts";
import type { Prng } from "./prng.ts";

export interface Weather {
  network: NetworkFaults;
  crashRate: number;
  partitionRate: number;
  /** How often a Ready's write takes a few ticks, while the node keeps ticking and stepping. */
  persistDelayRate: number;
}

export type FlowLimits = Required<Pick<RaftConfig, "maxInflightMsgs" | "maxEntriesBytesPerMsg" | "maxUncommittedBytes">>;

/**
 * Some seeds calm, some stormy: `storm` scales loss, crashes and partitions together. The caller
 * draws it, because each simulation draws it at its own place in its profile.
 */
export function drawWeather(p: Prng, storm: number): Weather {
  return {
    network: {
      lossRate: storm * 0.15,
      duplicateRate: p.next() * 0.08,
      delayTicksMax: p.int(1, 6),
      longDelayRate: p.next() * 0.03,
      isFifo: false,
    },
    crashRate: 0.001 + storm * 0.006,
    partitionRate: 0.002 + storm * 0.01,
    persistDelayRate: p.next() * 0.5,
  };
}

/** Small limits make the leader pipeline, split and refuse more often than the defaults would. */
export function drawFlowLimits(p: Prng): FlowLimits {
  return {
    maxInflightMsgs: p.pick([1, 2, 4, 16]),
    maxEntriesBytesPerMsg: p.pick([256, 4096, 65536]),
    maxUncommittedBytes: p.pick([2048, 16384]),
  };
}

/** How the simulation crashes one of its nodes; the faults log and count the crash. */
export interface Crashable<N> {
  isUp(node: N): boolean;
  crash(node: N, downTicks: number): void;
}

/** Crashes and partitions over a fixed set of nodes, and the slow disk. */
export class NodeFaults<N extends { readonly id: NodeId }> {
  private readonly ids: NodeId[];
  private partitionHealAt = -1;

  /** `nodes` in the simulation's own order: partitions shuffle that list, crashes walk it. */
  constructor(
    private readonly weather: Weather,
    private readonly network: SimNetwork,
    private readonly nodes: readonly N[],
    private readonly crashable: Crashable<N>,
    private readonly events: SimEvents,
  ) {
    this.ids = nodes.map((n) => n.id);
  }

  /** One chaos step: crash some running nodes, then heal the partition whose time is up, or maybe cut a new one. */
  inject(p: Prng, now: number): void {
    for (const node of this.nodes) {
      if (!this.crashable.isUp(node) || !p.chance(this.weather.crashRate)) continue;
      const downTicks = p.int(3, 80);
      this.crashable.crash(node, downTicks);
      this.events.log(`${node.id} crash (down ${downTicks})`);
      this.events.count("crash");
    }
    if (this.partitionHealAt >= 0 && now >= this.partitionHealAt) {
      this.network.healAll();
      this.partitionHealAt = -1;
      this.events.log("partition healed");
    } else if (this.partitionHealAt < 0 && p.chance(this.weather.partitionRate)) {
      this.partitionRandomly(p, now);
    }
  }

  private partitionRandomly(p: Prng, now: number): void {
    const ids = this.ids;
    const side = p.shuffle(ids.slice()).slice(0, p.int(1, Math.max(1, Math.floor(ids.length / 2))));
    const rest = ids.filter((id) => !side.includes(id));
    const isOneWay = p.chance(0.3);
    this.network.partition(side, rest, isOneWay);
    if (p.chance(0.2)) {
      // A flaky extra link inside the majority side.
      const a = p.pick(rest);
      const b = p.pick(rest);
      if (a !== b) this.network.cutLink(a, b);
    }
    this.partitionHealAt = now + p.int(10, 200);
    this.events.count(isOneWay ? "partitionOneWay" : "partition");
    this.events.log(`partition ${isOneWay ? "one-way " : ""}{${side.join(",")}} | {${rest.join(",")}}: ${this.network.describeCuts()}`);
  }

  /** The tick a Ready drawn now is persisted at: usually at once, sometimes a slow disk's few ticks later. */
  persistAt(p: Prng, now: number): number {
    const isDelayed = p.chance(this.weather.persistDelayRate);
    return now + (isDelayed ? p.int(1, 3) : 0);
  }

  /**
   * The end of the chaos: no partition now or later, and links that deliver in order without
   * loss, as the TCP transport does (what liveness is promised over).
   */
  healAll(): void {
    this.network.healAll();
    this.partitionHealAt = -1;
    this.network.faults = { lossRate: 0, duplicateRate: 0, delayTicksMax: 1, longDelayRate: 0, isFifo: true };
  }
}
