import type { Frame } from '@astraflow/protocol';
import type { RouteHandler } from './route-handler.js';

/**
 * Which handler takes which frame type: queued handlers (run by the
 * router under its limits) and express handlers (run the moment a frame
 * arrives). A plain table, created before the session, so the session's
 * registration can advertise its types without knowing the router.
 */
export class RouteTable {
  readonly #handlers = new Map<string, RouteHandler>();
  readonly #express = new Map<string, (frame: Frame) => void>();

  /** Routes `type` to `handler`, replacing any previous one. */
  register(type: string, handler: RouteHandler): void {
    this.#handlers.set(type, handler);
  }

  unregister(type: string): void {
    this.#handlers.delete(type);
  }

  /**
   * Handles frames of `type` the moment they arrive, ahead of everything
   * queued, without a slot: answers that running work waits on
   * (`biz.exec.next.response`), which behind a full queue would wait for
   * that very work to finish. Called again for a retransmitted copy, so
   * `handler` must be idempotent.
   */
  express(type: string, handler: (frame: Frame) => void): void {
    this.#express.set(type, handler);
  }

  /** The queued handler of `type`. */
  get(type: string): RouteHandler | undefined {
    return this.#handlers.get(type);
  }

  /** The express handler of `type`. */
  expressFor(type: string): ((frame: Frame) => void) | undefined {
    return this.#express.get(type);
  }

  /** Types with a handler, express ones included, sorted (advertised as `payload_types`). */
  types(): string[] {
    return [...new Set([...this.#handlers.keys(), ...this.#express.keys()])].sort();
  }
}
