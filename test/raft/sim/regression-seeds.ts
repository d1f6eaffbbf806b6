// Seeds that found bugs, kept forever (TigerBeetle habit); each runs on every test run. Each was
// checked to fail with its fix reverted. Negative controls must FAIL when storage damage is hidden
// from the core (and pass when it is not): they prove the checkers see lost committed entries.

export interface RegressionSeed {
  seed: number;
  bug: string;
}

export const regressionSeeds: RegressionSeed[] = [
  {
    seed: 7,
    bug: "a leader that proposed its own removal crashed before it committed; not a voter in its own log it never campaigned, and the remaining voter (without the entry) could not win — fixed by thesis §4.2.2: a removed voter campaigns until its removal commits",
  },
  {
    seed: 86,
    bug: "same §4.2.2 removal deadlock, reached through a different history (a 5-founder cluster)",
  },
];

export const negativeControlSeeds: RegressionSeed[] = [
  { seed: 18, bug: "a node restarted with a lost log tail and no voting rule elects a leader missing a committed entry" },
  { seed: 265, bug: "same, found at a different point: a leader of a later term lacks an entry committed in term 3" },
];
