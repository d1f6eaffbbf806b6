// One process per data directory: two nodes appending to one WAL would corrupt it silently.
// The lock is a file holding the owner's pid, created exclusively; a lock left by a process
// that no longer runs (kill -9) is taken over, since its owner can no longer write.
import * as fs from "node:fs";
import * as path from "node:path";

/** Lock files held by this process: a pid match alone can be a stale lock of a previous
 * incarnation with the same pid (pid 1 in a container restarted after kill -9). */
const heldHere = new Set<string>();

export class DataDirLock {
  private constructor(private readonly file: string) {}

  static acquire(dir: string): DataDirLock {
    fs.mkdirSync(dir, { recursive: true });
    const file = path.resolve(dir, "LOCK");
    if (heldHere.has(file)) throw new Error(`data directory ${dir} is already in use by this process`);
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${process.pid}\n`, { flag: "wx" });
        heldHere.add(file);
        return new DataDirLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const owner = Number(fs.readFileSync(file, "utf8").trim());
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
          throw new Error(`data directory ${dir} is in use by process ${owner}`);
        }
        fs.rmSync(file, { force: true });
      }
    }
    throw new Error(`could not lock data directory ${dir}`);
  }

  release(): void {
    heldHere.delete(this.file);
    fs.rmSync(this.file, { force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
