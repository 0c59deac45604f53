import type { ExecMode, ManifestAdapter, ManifestNode } from '@astraflow/protocol';

/** A node handler: receives the execution context, returns (or resolves to) its result. */
export type HandlerFunction = (ctx: never) => unknown;

/**
 * Everything known about one (package, version, node type): where the code
 * lives, the loaded function, and its metadata. The runner needs
 * `modulePath` / `exportName` / `handlerName` to load the same function
 * again inside a worker thread (see `loadHandler`).
 */
export interface RegisteredHandler {
  packageName: string;
  packageVersion: string;
  nodeType: string;
  /** Runtime the package targets (`node`, `python`, …). Only `node` handlers have `fn`. */
  runtime: string;
  node: ManifestNode;
  adapter: ManifestAdapter;
  /** Absolute path of the installed package folder. */
  packageRoot: string;
  /** Absolute path of the adapter module file. */
  modulePath: string;
  /** Named export given after `:` in the entrypoint, if any. */
  exportName: string | undefined;
  /** `node.handler`: the export, or the method of `exportName`, to call. */
  handlerName: string;
  /** The loaded handler, bound to its object when it is a method. Absent for foreign runtimes. */
  fn: HandlerFunction | undefined;
  /** True when `fn` is an `async function` (the `auto` exec mode runs those inline). */
  isAsync: boolean;
  /** `node.config.exec_mode`, else `adapter.metadata.exec_mode`, if either is a valid mode. */
  execMode: ExecMode | undefined;
  /** Adapter metadata merged with the node's `config` (node wins). */
  metadata: Record<string, unknown>;
  /**
   * Identifies this installation of the package. Pass it (with `packageRoot`)
   * to `loadHandler` so a re-installed package never runs stale cached modules.
   */
  cacheKey?: string | undefined;
  /** URL of this package's `load-handler` module: worker threads import its `loadHandler` to load the same function. */
  loaderUrl: string;
}

/**
 * A hold on an installed version while a task uses it: uninstall waits for
 * every lease of a version to be released before removing its files. It
 * satisfies the runner's `HandlerLease`, as the package manager satisfies its
 * `HandlerResolver`.
 */
export interface HandlerLease {
  readonly handler: RegisteredHandler;
  /** Idempotent. */
  release(): void;
}
