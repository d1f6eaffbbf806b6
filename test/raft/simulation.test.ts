// Deterministic simulation of whole clusters (see sim/cluster.ts). CI runs the regression seeds
// and a bounded slice of fresh seeds; every failure names its seed and how to replay it:
//   SINKRON_SIM_SEED=<n> bun test test/raft          one seed
//   SINKRON_SIM_SEEDS=<count> bun test test/raft     a soak from SINKRON_SIM_FIRST_SEED (default 1)

import { describe, expect, test } from "bun:test";
import { runSeed } from "./sim/cluster.ts";
import { negativeControlSeeds, regressionSeeds } from "./sim/regression-seeds.ts";

/** Measured on the 2-core CI machine: ~0.1 s per seed alone, so this slice runs in about 70 s. */
const ciSeedCount = 640;
const seedsPerTest = 20;
const soakTimeoutMs = 24 * 60 * 60 * 1000;

const singleSeed = process.env["SINKRON_SIM_SEED"];
const soakCount = process.env["SINKRON_SIM_SEEDS"];
const firstSeed = Number(process.env["SINKRON_SIM_FIRST_SEED"] ?? "1");

function runRange(from: number, count: number): void {
  for (let seed = from; seed < from + count; seed++) runSeed(seed);
}

if (singleSeed !== undefined) {
  test(`simulation seed ${singleSeed}`, () => {
    const result = runSeed(Number(singleSeed));
    console.log(JSON.stringify(result));
  }, soakTimeoutMs);
} else {
  describe("simulation regression seeds", () => {
    for (const { seed, bug } of regressionSeeds) {
      test(`seed ${seed}: ${bug}`, () => {
        runSeed(seed);
      }, 60_000);
    }
    for (const { seed, bug } of negativeControlSeeds) {
      test(`negative control seed ${seed} must fail when damage is hidden: ${bug}`, () => {
        expect(() => runSeed(seed, { isDamageHidden: true })).toThrow(/SimulationViolation/);
        runSeed(seed);
      }, 60_000);
    }
  });

  const count = soakCount === undefined ? ciSeedCount : Number(soakCount);
  describe(`simulation seeds ${firstSeed}..${firstSeed + count - 1}`, () => {
    for (let from = firstSeed; from < firstSeed + count; from += seedsPerTest) {
      const chunk = Math.min(seedsPerTest, firstSeed + count - from);
      test(`seeds ${from}..${from + chunk - 1}`, () => runRange(from, chunk), soakCount === undefined ? 120_000 : soakTimeoutMs);
    }
  });
}
