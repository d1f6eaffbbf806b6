// The REPL's readable lock answers: grants with their token, lease time left, holders and the
// queue in order; anything else falls back to the generic view.
import { expect, test } from "bun:test";
import { formatLockAnswer } from "../../src/cli/repl/format-lock.ts";

const NOW = 1_000_000;

test("acquire, renew and info read like sentences", () => {
  expect(formatLockAnswer("LOCK.ACQUIRE", { status: "OK", value: { token: 10240, mode: "exclusive" } }, NOW)).toBe("OK granted exclusive, fencing token 10240");
  expect(formatLockAnswer("LOCK.RENEW", { status: "OK", value: { expiresAtMs: NOW + 2500 } }, NOW)).toBe("OK lease renewed, 2.5 s left");
  const info = formatLockAnswer("LOCK.INFO", {
    status: "OK",
    value: {
      holders: [{ owner: "A", mode: "shared", token: 7, expiresAtMs: null }, { owner: "B", mode: "shared", token: 8, expiresAtMs: NOW + 300 }],
      waiters: [{ owner: "W", mode: "exclusive", deadlineMs: NOW + 4000 }],
    },
  }, NOW);
  expect(info).toBe(["OK", "  holders:", "    A  shared  token 7  no lease", "    B  shared  token 8  lease 300 ms left", "  waiters (in order):", "    1. W  exclusive  gives up in 4.0 s"].join("\n"));
  expect(formatLockAnswer("LOCK.INFO", { status: "OK", value: { holders: [], waiters: [] } }, NOW)).toBe("OK\n  holders: none\n  waiters: none");
});

test("errors and other commands use the generic view", () => {
  expect(formatLockAnswer("LOCK.ACQUIRE", { status: "TIMEOUT", value: { message: "x" } })).toBeNull();
  expect(formatLockAnswer("KV.GET", { status: "OK", value: { value: 1 } })).toBeNull();
  expect(formatLockAnswer("LOCK.RELEASE", { status: "OK", value: { released: true } })).toBeNull();
});
