// The HTTP API's listener: Bun.serve on --http host:port (keep-alive is Bun's default), one
// route table, bounded request bodies, and every refusal as JSON `{error, message}`.
import type { Server } from "bun";
import type { CommandRegistry } from "../server/registry.ts";
import type { Logger } from "../util/log.ts";
import { HTTP_BODY_BYTES_MAX } from "./body.ts";
import { createDispatch, type Dispatch } from "./dispatch.ts";
import { ROUTES, WAITING_PATHS, type Endpoint } from "./endpoints.ts";
import { asSinkronError, errorResponse, json } from "./responses.ts";
import { Router } from "./router.ts";
import { HttpStats } from "./stats.ts";

export interface HttpApiOptions {
  host: string;
  port: number;
  registry: CommandRegistry;
  log: Logger;
  /** Largest request body read; beyond it the request is refused with 413. */
  bodyBytesMax?: number;
  /**
   * The node's --token: when set, every request but GET /health must carry
   * `Authorization: Bearer <token>` (401 otherwise), as every binary connection must say HELLO
   * with it. /health stays open for container healthchecks; it tells nothing but up or down.
   */
  token?: string | null;
}

/** Paths a request may use without the token. */
const OPEN_PATHS: ReadonlySet<string> = new Set(["/health"]);

/**
 * Bun refuses bodies over its own limit before we see them (with no JSON); ours is checked
 * first for anything up to this multiple of it.
 */
const BUN_BODY_LIMIT_FACTOR = 8;

export class HttpApi {
  readonly stats = new HttpStats();
  private readonly router = new Router<Endpoint>(ROUTES);
  private readonly dispatch: Dispatch;
  private readonly bodyBytesMax: number;
  private server: Server<undefined> | null = null;

  constructor(private readonly options: HttpApiOptions) {
    this.dispatch = createDispatch(options.registry);
    this.bodyBytesMax = options.bodyBytesMax ?? HTTP_BODY_BYTES_MAX;
  }

  /** The port actually bound (useful when configured with port 0). */
  get port(): number {
    if (this.server === null) throw new Error("the HTTP API is not started");
    return this.server.port!;
  }

  start(): void {
    this.server = Bun.serve({
      hostname: this.options.host,
      port: this.options.port,
      maxRequestBodySize: this.bodyBytesMax * BUN_BODY_LIMIT_FACTOR,
      fetch: (request, server) => this.handle(request, server),
    });
    this.options.log.info("http listening", { address: `${this.options.host}:${this.port}` });
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.stop(true);
  }

  private async handle(request: Request, server: Server<undefined>): Promise<Response> {
    const startMs = performance.now();
    const url = new URL(request.url);
    const match = this.router.match(request.method, url.pathname);
    let response: Response;
    let route = "unmatched";
    switch (match.kind) {
      case "notFound":
        response = errorResponse(match.error);
        break;
      case "methodNotAllowed":
        response = json(405, { ...match.error.details, error: match.error.code, message: match.error.message }, { allow: match.allow });
        break;
      case "found": {
        route = match.route.path;
        if (!this.isAuthorized(request, route)) {
          response = json(401, { error: "UNAUTHORIZED", message: "send Authorization: Bearer <the node's --token>" }, { "www-authenticate": "Bearer" });
          break;
        }
        // A lock wait or a long poll may outlast Bun's idle timeout; the command bounds it itself.
        if (WAITING_PATHS.has(route)) server.timeout(request, 0);
        response = await this.run(match.route.handler, request, url, match.params);
        break;
      }
    }
    this.stats.record(request.method, route, response.status, performance.now() - startMs);
    return response;
  }

  private isAuthorized(request: Request, route: string): boolean {
    const token = this.options.token ?? null;
    if (token === null || OPEN_PATHS.has(route)) return true;
    const given = request.headers.get("authorization") ?? "";
    return given === `Bearer ${token}`;
  }

  private async run(endpoint: Endpoint, request: Request, url: URL, params: Record<string, string>): Promise<Response> {
    try {
      return await endpoint({ request, url, params, dispatch: this.dispatch, signal: request.signal, bodyBytesMax: this.bodyBytesMax, stats: this.stats });
    } catch (error) {
      const refusal = asSinkronError(error, url.pathname);
      if (refusal.code === "INTERNAL" && refusal !== error) this.options.log.error("http endpoint failed", { path: url.pathname, error: error as Error, stack: (error as Error)?.stack });
      return errorResponse(refusal);
    }
  }
}
