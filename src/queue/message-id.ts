// Message ids are opaque to clients; the node reads from one which partition group holds the
// message and its sequence number there: `<group>.<seq>`, both base 36. Group ids are never
// reused and sequence numbers never go back, so an id is unique in its queue forever.
export interface MessageAddress {
  group: number;
  seq: number;
}

export function formatMessageId(group: number, seq: number): string {
  return `${group.toString(36)}.${seq.toString(36)}`;
}

const ID_PATTERN = /^([0-9a-z]{1,7})\.([0-9a-z]{1,11})$/;

/** null for anything that is not an id this cluster could have issued. */
export function parseMessageId(id: string): MessageAddress | null {
  const match = ID_PATTERN.exec(id);
  if (match === null) return null;
  const group = parseInt(match[1]!, 36);
  const seq = parseInt(match[2]!, 36);
  if (group < 1 || seq < 1 || !Number.isSafeInteger(seq)) return null;
  return { group, seq };
}
