// host:port parsing shared by the CLI, the client and the cluster launcher.

export interface Address {
  host: string;
  port: number;
}

export function parseAddress(text: string): Address {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text.trim());
  if (!match) throw new Error(`expected host:port, got '${text}'`);
  const port = Number(match[2]);
  if (port > 65535) throw new Error(`port out of range in '${text}'`);
  const host = match[1]!.startsWith("[") ? match[1]!.slice(1, -1) : match[1]!;
  return { host, port };
}

export function formatAddress(address: Address): string {
  return address.host.includes(":") ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
