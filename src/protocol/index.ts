// Public surface of the protocol module, shared by server, client, REPL and bench.
export * from "./errors.ts";
export * from "./envelope.ts";
export * from "./frame.ts";
export * from "./msgpack.ts";
export * from "./schema.ts";
export * from "./commands.ts";
