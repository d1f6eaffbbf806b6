// A small leveled logger writing one line per event to stderr, prefixed with time and node,
// so the output of several nodes started together (`sinkron cluster`) stays readable.

export type LogLevel = "debug" | "info" | "warn" | "error";
const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(message: string, fields?: Record<string, unknown>): void;
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
  child(scope: string): Logger;
}

export function parseLogLevel(value: string | undefined): LogLevel {
  return value === "debug" || value === "info" || value === "warn" || value === "error" ? value : "info";
}

export function createLogger(scope: string, level: LogLevel = parseLogLevel(process.env.SINKRON_LOG_LEVEL)): Logger {
  const min = LEVEL_RANK[level];
  const write = (at: LogLevel, message: string, fields?: Record<string, unknown>) => {
    if (LEVEL_RANK[at] < min) return;
    const extra = fields ? " " + Object.entries(fields).map(([k, v]) => `${k}=${formatField(v)}`).join(" ") : "";
    process.stderr.write(`${new Date().toISOString()} ${scope} ${at} ${message}${extra}\n`);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (sub) => createLogger(`${scope}/${sub}`, level),
  };
}

/** A logger that drops everything; tests use it to keep their output clean. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silentLogger,
};

function formatField(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") return /^[\w.:/@-]*$/.test(value) ? value : JSON.stringify(value);
  return JSON.stringify(value) ?? String(value);
}
