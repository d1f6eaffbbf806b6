// Free loopback ports for tests that start real node processes.

function isFree(port: number): boolean {
  try {
    const probe = Bun.listen({ hostname: "127.0.0.1", port, socket: { data() {} } });
    probe.stop(true);
    return true;
  } catch {
    return false;
  }
}

/**
 * Below Linux's ephemeral range (32768-60999 by default): a port there that is free when probed
 * can be taken a moment later as the local port of any outgoing connection (a client, a peer,
 * a fetch), and the node that then listens on it fails with EADDRINUSE.
 */
const PORT_MIN = 10_000;
const PORT_END = 32_768;

/** A base port such that base .. base+count-1 are all free right now. */
export function freePortRange(count: number): number {
  for (let attempt = 0; attempt < 200; attempt++) {
    const base = PORT_MIN + Math.floor(Math.random() * (PORT_END - PORT_MIN - count));
    let ok = true;
    for (let i = 0; i < count && ok; i++) ok = isFree(base + i);
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}
