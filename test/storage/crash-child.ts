// Child process for crash.test.ts: reopens the WAL in argv[2], then appends, sets hard states and
// compacts in a loop, printing each fact only after the sync() that made it durable. The parent
// kills it with SIGKILL at a random moment and checks that every printed fact survived.

import * as fs from "node:fs";
import { openWal } from "../../src/storage/index.ts";
import type { StorageLogger } from "../../src/storage/types.ts";
import { makeEntries, seededRandom } from "./helpers.ts";

const dir = process.argv[2]!;
const seed = Number(process.argv[3] ?? 1);
const GROUPS = 4;
const quiet: StorageLogger = { info: () => {}, warn: () => {}, error: (m, f) => console.error(m, f) };

const { wal, recovered, report } = openWal({ dir, segmentBytesMax: 16 * 1024, logger: quiet });
if (report.damage !== undefined) {
  console.error("unexpected damage", report.findings);
  process.exit(2);
}
let term = 1;
/** Per group, index → term of every live entry, to compact at a real (index, term). */
const terms = new Map<number, Map<number, number>>();
for (const [id, group] of recovered) {
  term = Math.max(term, group.hardState.term + 1);
  terms.set(id, new Map(group.entries.map((e) => [e.index, e.term])));
}
const random = seededRandom(seed);
const say = (line: string) => fs.writeSync(1, line + "\n");

for (let round = 0; ; round++) {
  const lines: string[] = [];
  const touched = 1 + Math.floor(random() * GROUPS);
  for (let k = 0; k < touched; k++) {
    const group = Math.floor(random() * GROUPS);
    const state = wal.group(group);
    const first = (state?.lastIndex ?? 0) + 1;
    const count = 1 + Math.floor(random() * 20);
    const sizeBytes = 50 + Math.floor(random() * 250);
    wal.appendEntries(group, makeEntries(group, first, count, term, sizeBytes));
    const groupTerms = terms.get(group) ?? new Map<number, number>();
    for (let index = first; index < first + count; index++) groupTerms.set(index, term);
    terms.set(group, groupTerms);
    lines.push(`E ${group} ${first} ${first + count - 1} ${term} ${sizeBytes}`);
    wal.setHardState(group, { term, vote: "self", commit: first - 1 });
    lines.push(`H ${group} ${term} ${first - 1}`);
    const compactAt = first - 10;
    if (round % 10 === 9 && compactAt > wal.group(group)!.compactedIndex) {
      wal.markCompacted(group, compactAt, groupTerms.get(compactAt)!);
      lines.push(`C ${group} ${compactAt}`);
    }
  }
  wal.sync();
  for (const line of lines) say(line);
  // Let the event loop run, as a node's does, so the next segment's preallocation can finish and
  // kills also land in rotations onto preallocated segments and in half-done zero-fills.
  await Bun.sleep(round % 2);
}
