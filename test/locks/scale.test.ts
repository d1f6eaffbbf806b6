// The deadlock search stays linear in the table: with a queue of 999 waiters whose owners each
// hold another lock, every one of 999 further waits walks that queue. A search quadratic in
// the queue would do ~5 × 10^8 steps here; the per-lock scan cursors keep it near 10^6.
import { expect, test } from "bun:test";
import { LockDriver } from "./transcript.ts";

test("999 waits that each search a 999-long queue finish quickly", () => {
  const driver = new LockDriver({ lockWaitersMax: 999, ownerLocksMax: 1_000 });
  driver.isCheckingEachStep = false;
  const started = performance.now();
  driver.run("acquire h0 h L x wait=inf");
  for (let i = 0; i < 999; i += 1) {
    driver.run(`acquire p${i} w${i} P${i} x wait=inf`);
    expect(driver.run(`acquire q${i} w${i} L x wait=inf`)).toEqual(["queued"]);
  }
  for (let i = 0; i < 999; i += 1) expect(driver.run(`acquire z${i} z P${i} x wait=inf`)).toEqual(["queued"]);
  // h closing the cycle through the middle of the queue is refused.
  expect(driver.run("acquire h1 h P500 s wait=inf")[0]).toStartWith("DEADLOCK h -P500-> ");
  const elapsedMs = performance.now() - started;
  console.log(`scale: ${driver.index} entries in ${elapsedMs.toFixed(0)} ms`);
  driver.table.checkInvariants();
  expect(driver.table.stats().waiters).toBe(999 + 999);
  // Generous for a shared 2-core machine; a quadratic search takes minutes here.
  expect(elapsedMs).toBeLessThan(5_000);
});
