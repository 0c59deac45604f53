/**
 * The worker's one draining state: once on, new dispatches and package
 * commands are refused (`E.RUNNER.CANCELLED`, reason `draining`) and
 * `/readyz` answers 503. Created first in `setup()` and handed to each
 * part that reads it, so none has to reach back to the worker.
 */
export class DrainSwitch {
  #on = false;

  /** True once draining. */
  get on(): boolean {
    return this.#on;
  }

  /** Turns draining on; true the first time only. */
  turnOn(): boolean {
    if (this.#on) return false;
    this.#on = true;
    return true;
  }
}
