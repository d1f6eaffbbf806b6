// Seeds that found bugs, kept forever (TigerBeetle habit). Each runs in CI on every test run. A
// line says what broke; `isDamageHidden` marks negative controls that must FAIL (they prove the
// checkers can see lost committed data when storage damage is hidden from the core).

export interface RegressionSeed {
  seed: number;
  bug: string;
  isDamageHidden?: boolean;
}

export const regressionSeeds: RegressionSeed[] = [];

export const negativeControlSeeds: RegressionSeed[] = [];
