// File-system helpers for the WAL and the snapshot store: segment names, durable writes and
// directory fsync. Every durability step of storage goes through here, so "fsync: false" is one flag.

import * as fs from "node:fs";
import * as path from "node:path";

const SEGMENT_NAME = /^(\d{20})\.log$/;
export const TEMP_SUFFIX = ".tmp";

export function segmentName(seq: number): string {
  return `${String(seq).padStart(20, "0")}.log`;
}

export interface SegmentFile {
  seq: number;
  path: string;
}

/** The segments in `walDir`, oldest first. Other files are not ours to read. */
export function listSegments(walDir: string): SegmentFile[] {
  const segments: SegmentFile[] = [];
  for (const name of fs.readdirSync(walDir)) {
    const match = SEGMENT_NAME.exec(name);
    if (match === null) continue;
    segments.push({ seq: Number(match[1]), path: path.join(walDir, name) });
  }
  return segments.sort((a, b) => a.seq - b.seq);
}

/** Remove `*.tmp` leftovers of writes a crash interrupted; they were never renamed into place. */
export function removeTempFiles(dir: string): string[] {
  const removed: string[] = [];
  for (const name of fs.readdirSync(dir)) {
    if (!name.endsWith(TEMP_SUFFIX)) continue;
    fs.rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Writes every byte of `chunks` at `position` (or at the fd's own position when null), looping on
 * short writes. The WAL writes positionally: a preallocated segment's end of data is not its size.
 */
export function writeAll(fd: number, chunks: Uint8Array[], position: number | null = null): number {
  let totalBytes = 0;
  for (const chunk of chunks) totalBytes += chunk.length;
  const at = (written: number) => (position === null ? null : position + written);
  let writtenBytes = position === null ? fs.writevSync(fd, chunks) : fs.writevSync(fd, chunks, position);
  while (writtenBytes < totalBytes) {
    // Rare on regular files (disk full, signals); finish the rest chunk by chunk.
    let skip = writtenBytes;
    const rest: Uint8Array[] = [];
    for (const chunk of chunks) {
      if (skip >= chunk.length) {
        skip -= chunk.length;
        continue;
      }
      rest.push(skip > 0 ? chunk.subarray(skip) : chunk);
      skip = 0;
    }
    const restAt = at(writtenBytes);
    const wrote = restAt === null ? fs.writevSync(fd, rest) : fs.writevSync(fd, rest, restAt);
    if (wrote <= 0) throw new Error(`writev wrote ${wrote} bytes of ${totalBytes - writtenBytes}`);
    writtenBytes += wrote;
  }
  return totalBytes;
}

/** A directory entry (create, rename, unlink) is durable only once the directory is fsync'd. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Create `dir` (and parents) and make each new entry durable in its parent. */
export function ensureDir(dir: string, isFsyncEnabled: boolean): void {
  const resolved = path.resolve(dir);
  if (fs.existsSync(resolved)) return;
  ensureDir(path.dirname(resolved), isFsyncEnabled);
  fs.mkdirSync(resolved);
  if (isFsyncEnabled) fsyncDir(path.dirname(resolved));
}

/** Write a whole file durably and atomically: temp file, fsync, rename, fsync directory. */
export function writeFileAtomic(filePath: string, chunks: Uint8Array[], isFsyncEnabled: boolean): void {
  const tempPath = filePath + TEMP_SUFFIX;
  const fd = fs.openSync(tempPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_TRUNC, 0o644);
  try {
    writeAll(fd, chunks);
    if (isFsyncEnabled) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tempPath, filePath);
  if (isFsyncEnabled) fsyncDir(path.dirname(filePath));
}

export function fsyncFile(filePath: string): void {
  const fd = fs.openSync(filePath, "r+");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

const ZERO_CHUNK = new Uint8Array(64 * 1024);

/** Real zeros, for preallocating a segment and for overwriting a preallocated segment's torn tail. */
export function zeroChunk(sizeBytes: number): Uint8Array {
  return sizeBytes <= ZERO_CHUNK.length ? ZERO_CHUNK.subarray(0, sizeBytes) : new Uint8Array(sizeBytes);
}

/** The smallest offset ≥ from after which `bytes` holds only zeros (bytes.length if it ends non-zero). */
export function zeroTailStart(bytes: Uint8Array, from: number): number {
  let end = bytes.length;
  while (end > from) {
    const start = Math.max(from, end - ZERO_CHUNK.length);
    if (Buffer.compare(bytes.subarray(start, end), ZERO_CHUNK.subarray(0, end - start)) !== 0) {
      let last = end - 1;
      while (bytes[last] === 0) last--;
      return last + 1;
    }
    end = start;
  }
  return from;
}
