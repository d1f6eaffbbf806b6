// Invariant checks for storage. A broken invariant is a bug in the caller or in storage itself and
// must stop the process before it becomes data on disk (STYLE.md habit 4).

export class StorageAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StorageAssertionError";
  }
}

export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) throw new StorageAssertionError(message);
}

/** Indices, terms and group ids are integers that must survive a round trip through u64/u32. */
export function assertUint(value: number, bits: 32 | 64, what: string): void {
  const max = bits === 32 ? 0xffff_ffff : Number.MAX_SAFE_INTEGER;
  assert(Number.isInteger(value) && value >= 0 && value <= max, `${what} must be an integer in [0, ${max}], got ${value}`);
}

export function isUint64(value: number): boolean {
  return Number.isSafeInteger(value) && value >= 0;
}
