import type { ExecMode } from '@astraflow/protocol';

/**
 * What the runner needs to know about one node handler: the loaded function
 * for inline runs, and where its code lives so a worker thread can load the
 * same function again. `@astraflow/registry`'s `RegisteredHandler` is one.
 */
export interface ResolvedHandler {
  packageName: string;
  packageVersion: string;
  nodeType: string;
  /** Runtime the package targets (`node`, `python`, …). Only `node` handlers have `fn`. */
  runtime: string;
  /** The loaded handler, bound to its object when it is a method. Absent for foreign runtimes. */
  fn: ((ctx: never) => unknown) | undefined;
  /** True when `fn` is an `async function` (the `auto` exec mode runs those inline). */
  isAsync: boolean;
  /** The node's or adapter's own exec mode, if it sets one. */
  execMode: ExecMode | undefined;
  /** Adapter metadata merged with the node's `config`; becomes `ctx.metadata`. */
  metadata: Record<string, unknown>;
  /** Absolute path of the adapter module file. */
  modulePath: string;
  /** Named export given after `:` in the entrypoint, if any. */
  exportName: string | undefined;
  /** The export, or the method of `exportName`, to call. */
  handlerName: string;
  /** Absolute path of the installed package folder. */
  packageRoot: string;
  /** Identifies this installation, so a thread never runs a re-installed package's stale modules. */
  cacheKey?: string | undefined;
  /**
   * URL of an ES module exporting a {@link HandlerLoader} named `loadHandler`.
   * Worker threads import it to load `modulePath` the way the resolver did;
   * the resolver names it, so the runner needs no loader of its own.
   */
  loaderUrl: string;
}

/**
 * Loads one handler function inside a worker thread. The module at
 * {@link ResolvedHandler.loaderUrl} exports it as `loadHandler`.
 */
export type HandlerLoader = (
  modulePath: string,
  exportName: string | undefined,
  handlerName: string,
  options: { cacheKey?: string | undefined; packageRoot?: string | undefined },
) => Promise<{ fn: (ctx: never) => unknown }>;

/**
 * A hold on an installed version while a task uses it: the resolver must
 * not remove the version's files before every lease is released.
 */
export interface HandlerLease {
  readonly handler: ResolvedHandler;
  /** Idempotent. */
  release(): void;
}

/**
 * What the runner needs from a package manager: resolve a node to its
 * handler and hold its version for the duration of a task. Throws an
 * `AstraError` (`E.PKG.NOT_FOUND`, `E.PKG.UNINSTALLING`,
 * `E.PKG.RUNTIME_UNSUPPORTED`) with a message listing what is available.
 * `@astraflow/registry`'s package manager implements it.
 */
export interface HandlerResolver {
  acquire(packageName: string, packageVersion: string, nodeType: string): HandlerLease;
}
