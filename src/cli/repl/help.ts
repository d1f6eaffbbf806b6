// The REPL's knowledge of commands, for `help`, `help CMD` and tab completion. Commands in
// the protocol catalog (src/protocol/commands.ts — every CommandInfo it exports, so a service
// that adds its commands there shows up here unchanged) come with their real schemas; the
// commands PROTOCOL.md plans but the catalog does not hold yet come from a static table.
import * as catalog from "../../protocol/commands.ts";
import type { CommandInfo } from "../../protocol/commands.ts";

export type ArgDoc = { name: string; type: string; required: boolean; doc: string };
export type CommandDoc = { name: string; summary: string; args: ArgDoc[]; result: string; isPlanned: boolean };

const req = (name: string, type: string, doc: string): ArgDoc => ({ name, type, required: true, doc });
const planned = (name: string, summary: string, args: ArgDoc[], result: string): CommandDoc => ({ name, summary, args, result, isPlanned: true });

/** PROTOCOL.md §10 commands not (yet) in the catalog; the catalog wins when both have one. */
const PLANNED: readonly CommandDoc[] = [
  planned("KV.GET", "linearizable read of a key", [req("key", "string", "the key")], "{value, revision} or NOT_FOUND"),
  planned("KV.SET", "write a key", [req("key", "string", "the key"), req("value", "any value", "nested maps and arrays allowed")], "{revision}"),
  planned("KV.DEL", "delete a key", [req("key", "string", "the key")], "{deleted}"),
  planned("CLUSTER.ADD", "add a member", [req("id", "string", "the new member's node id"), req("address", "string", "its host:port")], "{members}"),
  planned("CLUSTER.REMOVE", "remove a member", [req("id", "string", "the member to remove")], "{members}"),
  planned("CLUSTER.TRANSFER", "hand leadership to a member", [req("to", "string", "the member that should lead")], "{leader}"),
];

function isCommandInfo(value: unknown): value is CommandInfo {
  if (value === null || typeof value !== "object") return false;
  const candidate = value as Partial<CommandInfo>;
  return typeof candidate.name === "string" && typeof candidate.summary === "string" && typeof candidate.result === "string" && typeof candidate.args?.shape === "object";
}

function fromCatalog(info: CommandInfo): CommandDoc {
  const args = Object.entries(info.args.shape).map(([name, field]) => ({ name, type: field.type, required: field.required, doc: field.doc }));
  return { name: info.name, summary: info.summary, args, result: info.result, isPlanned: false };
}

/** Every command the REPL knows, catalog first, sorted by name. */
export function commandDocs(): CommandDoc[] {
  const byName = new Map<string, CommandDoc>();
  for (const exported of Object.values(catalog)) {
    const infos = Array.isArray(exported) ? exported : [exported];
    for (const info of infos) if (isCommandInfo(info)) byName.set(info.name, fromCatalog(info));
  }
  for (const doc of PLANNED) if (!byName.has(doc.name)) byName.set(doc.name, doc);
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

export function formatCommandList(docs: readonly CommandDoc[]): string {
  const width = Math.max(...docs.map((d) => d.name.length));
  const lines = docs.map((d) => `  ${d.name.padEnd(width)}  ${d.summary}${d.isPlanned ? " (planned)" : ""}`);
  return [
    "Commands (help COMMAND for its arguments; names are case-insensitive):",
    ...lines,
    "",
    "Syntax:  COMMAND key=value key2=\"with spaces\"   or   COMMAND {\"key\": \"json\"}",
    "         values: numbers, true/false/null and JSON become those; anything else is a string",
    "         binary in JSON: {\"$bin\": \"68656c6c6f\"}",
    "         CMD1 ; CMD2   sends both at once (pipelined)",
    "Meta:    help, help COMMAND, .exit (or Ctrl-D)",
  ].join("\n");
}

export function formatCommandHelp(doc: CommandDoc): string {
  const lines = [`${doc.name} — ${doc.summary}${doc.isPlanned ? " (planned: the node may answer UNKNOWN_COMMAND)" : ""}`];
  if (doc.args.length === 0) {
    lines.push("  no arguments");
  } else {
    const width = Math.max(...doc.args.map((a) => a.name.length + (a.required ? 0 : 1)));
    for (const arg of doc.args) {
      const name = arg.required ? arg.name : `${arg.name}?`;
      lines.push(`  ${name.padEnd(width)}  ${arg.type} — ${arg.doc}`);
    }
  }
  lines.push(`  result: ${doc.result}`);
  const example = doc.args.filter((a) => a.required).map((a) => `${a.name}=…`);
  lines.push(`  e.g.    ${[doc.name, ...example].join(" ")}`);
  return lines.join("\n");
}

/**
 * Tab completion: the command name at the start of a pipeline segment (or after `help`),
 * else the command's argument names as `key=`. Returns readline's [matches, fragment].
 */
export function complete(line: string, docs: readonly CommandDoc[]): [string[], string] {
  const segment = line.slice(line.lastIndexOf(";") + 1).replace(/^\s+/, "");
  const words = segment.split(/\s+/);
  const fragment = words[words.length - 1] ?? "";
  const names = docs.map((d) => d.name);
  const isHelp = words.length === 2 && /^(help|\.help|\?)$/i.test(words[0]!);
  if (words.length === 1 || isHelp) {
    const upper = fragment.toUpperCase();
    const matches = names.filter((name) => name.startsWith(upper));
    // Keep the user's case when they typed lower case: `lock.ac` completes to `lock.acquire`.
    const isLower = fragment !== "" && fragment === fragment.toLowerCase();
    const metas = words.length === 1 ? ["help", ".exit"].filter((m) => m.startsWith(fragment.toLowerCase()) && fragment !== "") : [];
    return [[...(isLower ? matches.map((m) => m.toLowerCase()) : matches), ...metas], fragment];
  }
  const doc = docs.find((d) => d.name === words[0]!.toUpperCase());
  if (doc === undefined || fragment.includes("=")) return [[], fragment];
  const given = new Set(words.slice(1, -1).map((w) => w.split("=")[0]));
  const keys = doc.args.filter((a) => !given.has(a.name) && a.name.startsWith(fragment)).map((a) => `${a.name}=`);
  return [keys, fragment];
}
