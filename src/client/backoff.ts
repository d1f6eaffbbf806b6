// Reconnect pacing: exponential backoff with "equal jitter" (half fixed, half random), so a
// cluster that restarts is not hit by every client in the same millisecond, yet no pause is
// ever shorter than half the nominal one. Pure: the random source is an argument.

/** Pause before reconnect round `round` (0 = first retry round after a failed one). */
export function backoffDelayMs(round: number, backoffMsMin: number, backoffMsMax: number, random: () => number): number {
  // 2^30 already exceeds any sane max; capping the exponent keeps the product finite.
  const nominalMs = Math.min(backoffMsMax, backoffMsMin * 2 ** Math.min(round, 30));
  const jitterMs = random() * (nominalMs / 2);
  return Math.round(nominalMs / 2 + jitterMs);
}
