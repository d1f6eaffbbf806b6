// Matches a request to a route: an exact path or one ending in a `{param}` that takes the rest
// of the path. An unknown path is 404; a known path with another method is 405 with `Allow`.
import { SinkronError } from "../protocol/errors.ts";

export type Method = "GET" | "POST";

export interface Route<H> {
  readonly method: Method;
  /** "/status", or "/read/{key}": the last segment may be a parameter (it may contain "/"). */
  readonly path: string;
  readonly handler: H;
}

export type RouteMatch<H> =
  | { kind: "found"; route: Route<H>; params: Record<string, string> }
  | { kind: "notFound"; error: SinkronError }
  | { kind: "methodNotAllowed"; allow: string; error: SinkronError };

function matchPath(pattern: string, path: string): Record<string, string> | null {
  const open = pattern.indexOf("{");
  if (open < 0) return pattern === path ? {} : null;
  const prefix = pattern.slice(0, open);
  if (!path.startsWith(prefix) || path.length === prefix.length) return null;
  const name = pattern.slice(open + 1, pattern.indexOf("}"));
  try {
    return { [name]: decodeURIComponent(path.slice(prefix.length)) };
  } catch {
    return null;
  }
}

export class Router<H> {
  constructor(private readonly routes: readonly Route<H>[]) {}

  match(method: string, path: string): RouteMatch<H> {
    const allowed: Route<H>[] = [];
    for (const route of this.routes) {
      const params = matchPath(route.path, path);
      if (params === null) continue;
      if (route.method === method) return { kind: "found", route, params };
      allowed.push(route);
    }
    if (allowed.length === 0) return { kind: "notFound", error: new SinkronError("NOT_FOUND", `no endpoint at ${path}`, { path }) };
    const allow = [...new Set(allowed.map((r) => r.method))].join(", ");
    return { kind: "methodNotAllowed", allow, error: new SinkronError("BAD_REQUEST", `${method} is not allowed on ${path} (allowed: ${allow})`, { allow }) };
  }
}
