// kill -9 at random moments: a child appends and syncs in a loop and prints what each completed
// sync() covered; after every kill the WAL is reopened and every printed fact must be there.

import { afterAll, expect, test } from "bun:test";
import * as fs from "node:fs";
import * as path from "node:path";
import { openWal } from "../../src/storage/index.ts";
import { parseRecord } from "../../src/storage/record.ts";
import type { GroupId } from "../../src/storage/types.ts";
import { captureLogger, copyDir, entryData, removeDir, seededRandom, segmentFiles, tempDir, testSeed } from "./helpers.ts";

const KILLS = Number(process.env.SINKRON_CRASH_KILLS ?? 10);
const bun = process.execPath;
const child = path.join(import.meta.dir, "crash-child.ts");
const dir = tempDir("crash");
afterAll(() => removeDir(dir));

interface Printed {
  /** Per group, index → [term, sizeBytes] of every entry a completed sync covered. */
  entries: Map<GroupId, Map<number, [number, number]>>;
  termMax: Map<GroupId, number>;
}

function absorb(printed: Printed, text: string): number {
  let lines = 0;
  for (const line of text.split("\n")) {
    const [kind, ...fields] = line.split(" ");
    const numbers = fields.map(Number);
    if (kind === "E" && numbers.length === 5) {
      const [group, first, last, term, sizeBytes] = numbers as [number, number, number, number, number];
      const entries = printed.entries.get(group) ?? new Map<number, [number, number]>();
      for (let index = first; index <= last; index++) entries.set(index, [term, sizeBytes]);
      printed.entries.set(group, entries);
      lines++;
    } else if (kind === "H" && numbers.length === 3) {
      const [group, term] = numbers as [number, number];
      printed.termMax.set(group, Math.max(printed.termMax.get(group) ?? 0, term));
      lines++;
    }
  }
  return lines;
}

test(`kill -9 at ${KILLS} random moments loses nothing a completed sync covered`, async () => {
  const seed = testSeed();
  const random = seededRandom(seed);
  const printed: Printed = { entries: new Map(), termMax: new Map() };
  let linesTotal = 0;
  let killsAfterProgress = 0;
  /** Kills that left a preallocated last segment (so recovery read its zero tail). */
  let killsInPreallocated = 0;
  for (let kill = 0; kill < KILLS; kill++) {
    const where = `seed ${seed}, kill ${kill}`;
    // Some kills land in the child's own recovery; the rest a random time after it made progress,
    // so a slow shared disk shifts the moments but never removes them.
    const isStartupKill = random() < 0.25;
    const delayMs = isStartupKill ? Math.floor(random() * 60) : 10 + Math.floor(random() * 200);
    const proc = Bun.spawn([bun, child, dir, String(seed + kill)], { stdout: "pipe", stderr: "pipe" });
    const killNow = () => proc.kill("SIGKILL");
    const timers = [setTimeout(killNow, 15_000)];
    if (isStartupKill) timers.push(setTimeout(killNow, delayMs));
    else killsAfterProgress++;
    const stderrText = new Response(proc.stderr).text();
    const decoder = new TextDecoder();
    let stdout = "";
    for await (const chunk of proc.stdout) {
      if (stdout === "" && !isStartupKill) timers.push(setTimeout(killNow, delayMs));
      stdout += decoder.decode(chunk, { stream: true });
    }
    const stderr = await stderrText;
    await proc.exited;
    for (const timer of timers) clearTimeout(timer);
    expect(proc.signalCode ?? "exited", `${where}: ${stderr}`).toBe("SIGKILL");
    linesTotal += absorb(printed, stdout);

    // Check on a copy, so the next child performs the real recovery of the killed state.
    const check = tempDir("crash-check");
    try {
      copyDir(dir, check);
      const { wal, recovered, report } = openWal({ dir: check, segmentBytesMax: 16 * 1024, logger: captureLogger() });
      expect(report.damage, where).toBeUndefined();
      expect(report.findings, where).toEqual([]);
      for (const [group, entries] of printed.entries) {
        const g = recovered.get(group);
        expect(g, `${where}: group ${group}`).toBeDefined();
        expect(g!.hardState.term, `${where}: group ${group}`).toBeGreaterThanOrEqual(printed.termMax.get(group) ?? 0);
        const byIndex = new Map(g!.entries.map((e) => [e.index, e]));
        for (const [index, [term, sizeBytes]] of entries) {
          if (index <= g!.compactedIndex) continue;
          const entry = byIndex.get(index);
          expect(entry?.term, `${where}: group ${group} index ${index}`).toBe(term);
          expect(entry!.data, `${where}: group ${group} index ${index}`).toEqual(entryData(group, index, term, sizeBytes));
        }
      }
      const last = segmentFiles(check).at(-1)!;
      const head = parseRecord(new Uint8Array(fs.readFileSync(last)), 0);
      if (head.status === "ok" && head.record.kind === "checkpoint" && head.record.isPreallocated) killsInPreallocated++;
      wal.close();
    } finally {
      removeDir(check);
    }
  }
  expect(linesTotal).toBeGreaterThanOrEqual(killsAfterProgress);
  const oldest = path.basename(segmentFiles(dir)[0]!);
  console.log(
    `crash test: seed ${seed}, ${KILLS} kills (${killsInPreallocated} in a preallocated segment), ${linesTotal} facts printed, oldest segment now ${oldest}`,
  );
}, 30_000 + KILLS * 1000);
