// The call path of one client: calls go out on the current link while there is room (in
// flight < inflightRequestsMax, unsent bytes < outboundBytesHighWater), otherwise wait in
// call order (at most waitingRequestsMax); answers are matched by id; deadlines are swept.
// It knows nothing of connecting: the client points it at a link, or at none.
import type { Status } from "../protocol/envelope.ts";
import { SinkronError } from "../protocol/errors.ts";
import type { Call } from "./call.ts";
import type { Link } from "./link.ts";
import { PendingTable } from "./pending-table.ts";
import { RequestEncoder } from "./request-encoder.ts";
import { WaitQueue } from "./wait-queue.ts";

export interface DispatchLimits {
  inflightRequestsMax: number;
  waitingRequestsMax: number;
  outboundBytesHighWater: number;
  frameBytesMax: number;
}

export class Dispatcher {
  /** Where calls go; null while no connection is ready (calls wait). */
  target: Link | null = null;
  readonly counters = { requestsSent: 0, responsesReceived: 0, lateResponses: 0 };
  private readonly pending: PendingTable;
  private readonly waiting = new WaitQueue();
  private readonly encoder = new RequestEncoder();

  /** `nodesText` names the nodes in messages of calls that found no connection. */
  constructor(
    private readonly limits: DispatchLimits,
    private readonly nodesText: string,
  ) {
    // +1: HELLO is written outside the bound, while nothing else can be in flight.
    this.pending = new PendingTable(limits.inflightRequestsMax + 1);
  }

  get inflightRequests(): number {
    return this.pending.size;
  }

  get waitingRequests(): number {
    return this.waiting.length;
  }

  submit(call: Call): void {
    if (this.waiting.length === 0 && this.hasRoom()) {
      this.write(call, this.target!);
      return;
    }
    if (this.waiting.length >= this.limits.waitingRequestsMax) {
      call.reject(this.waitingFull());
      return;
    }
    this.waiting.push(call);
  }

  /** Writes `call` on `link` now, whatever the target and bounds (HELLO on a new link). */
  sendNow(call: Call, link: Link): void {
    this.write(call, link);
  }

  /** Sends waiting calls in order while there is room. */
  pump(): void {
    while (this.waiting.length > 0 && this.hasRoom()) this.write(this.waiting.shift()!, this.target!);
  }

  /** Settles the call waiting for `id`; an unknown id (answered after its timeout) is counted and dropped. */
  settle(id: number, status: Status, value: unknown): void {
    const call = this.pending.take(id);
    if (call === undefined) {
      this.counters.lateResponses++;
      return;
    }
    this.counters.responsesReceived++;
    if (status === "OK") call.resolve(value);
    else call.reject(SinkronError.fromResponse(status, value));
    if (this.waiting.length > 0) this.pump();
  }

  /** Rejects calls past their deadline: sent ones TIMEOUT; unsent ones TIMEOUT or, with no connection, UNAVAILABLE. */
  sweep(nowMs: number): void {
    this.pending.expire(nowMs, (call) => {
      call.reject(new SinkronError("TIMEOUT", `${call.command}: no answer within ${call.timeoutMs} ms`, { command: call.command, timeoutMs: call.timeoutMs }));
    });
    this.waiting.expire(nowMs, (call) => {
      const details = { command: call.command, timeoutMs: call.timeoutMs, sent: false };
      call.reject(
        this.target !== null
          ? new SinkronError("TIMEOUT", `${call.command}: not sent within ${call.timeoutMs} ms (too many calls in flight)`, details)
          : new SinkronError("UNAVAILABLE", `${call.command}: no node reachable within ${call.timeoutMs} ms (tried ${this.nodesText}); not sent`, details),
      );
    });
  }

  /** The connection is gone: every sent call fails with `errorFor(call)`; unsent ones keep waiting. */
  failInflight(errorFor: (call: Call) => SinkronError): void {
    for (const call of this.pending.drain()) call.reject(errorFor(call));
  }

  /** The client is closing: every call fails. */
  failAll(error: SinkronError): void {
    for (const call of this.pending.drain()) call.reject(withNote(error, "the request may or may not have taken effect"));
    for (const call of this.waiting.drain()) call.reject(withNote(error, "not sent"));
  }

  private hasRoom(): boolean {
    const link = this.target;
    return link !== null && this.pending.size < this.limits.inflightRequestsMax && link.pendingBytes < this.limits.outboundBytesHighWater;
  }

  private write(call: Call, link: Link): void {
    const id = this.pending.add(call);
    let payload: Uint8Array;
    try {
      payload = this.encoder.encode(id, call.command, call.args);
    } catch (error) {
      this.pending.take(id);
      call.reject(new SinkronError("BAD_REQUEST", `${call.command}: args cannot be encoded as MessagePack: ${(error as Error).message}`));
      return;
    }
    if (payload.byteLength > this.limits.frameBytesMax) {
      // The node would refuse the frame and close the connection, failing every other call.
      this.pending.take(id);
      call.reject(new SinkronError("TOO_LARGE", `${call.command}: request of ${payload.byteLength} bytes exceeds frameBytesMax ${this.limits.frameBytesMax}`, { sizeBytes: payload.byteLength }));
      return;
    }
    link.send(payload);
    this.counters.requestsSent++;
  }

  /** Full queue: connected, the caller is over-pipelining (TOO_LARGE); not connected, it is the outage (UNAVAILABLE). */
  private waitingFull(): SinkronError {
    const limit = { limit: "waitingRequestsMax", waitingRequestsMax: this.limits.waitingRequestsMax };
    return this.target !== null
      ? new SinkronError("TOO_LARGE", `more than ${this.limits.waitingRequestsMax} calls waiting to be sent; not sent`, limit)
      : new SinkronError("UNAVAILABLE", `not connected and ${this.limits.waitingRequestsMax} calls already wait for a connection; not sent`, limit);
  }
}

function withNote(error: SinkronError, note: string): SinkronError {
  return new SinkronError(error.code, `${error.message}; ${note}`, error.details);
}
