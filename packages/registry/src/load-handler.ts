import { statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
// The error part only: this module is what the import probe process loads, and zod would double its start.
import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol/errors';
import type { HandlerFunction } from './types.js';

/** Options of {@link loadHandler}. */
export interface LoadHandlerOptions {
  /**
   * Identifies one installation of the package (`RegisteredHandler.cacheKey`).
   * Node caches modules by URL, so without it a package re-installed at the
   * same path would keep running the old code: the key goes into the import
   * URL (`?v=<key>`), and when it changes the CommonJS cache of the package
   * folder is cleared.
   */
  cacheKey?: string | undefined;
  /** The package folder (`RegisteredHandler.packageRoot`); scopes the CommonJS cache clearing. Default: the module's folder. */
  packageRoot?: string | undefined;
}

/** A handler function ready to call, and whether it is an `async function`. */
export interface LoadedHandler {
  /** The handler; methods come bound to their object. */
  fn: HandlerFunction;
  /** `fn.constructor.name === 'AsyncFunction'` (checked on the unbound function). */
  isAsync: boolean;
}

/**
 * URL of this module, carried by every `RegisteredHandler` as `loaderUrl`:
 * the runner's worker threads import it to call {@link loadHandler}.
 */
export const HANDLER_LOADER_URL: string = import.meta.url;

const requireFromHere = createRequire(import.meta.url);
/** Cache key last loaded per package folder, in this thread. */
const lastKeyByScope = new Map<string, string>();
/** One instance per exported class ("instantiate once"), shared by every node that uses it. */
const instances = new WeakMap<object, object>();

/**
 * Drops every CommonJS module under `scope` from this thread's `require`
 * cache, so the next import evaluates the files on disk again.
 */
export function purgeRequireCache(scope: string): void {
  const prefix = scope.endsWith(sep) ? scope : scope + sep;
  for (const key of Object.keys(requireFromHere.cache)) {
    if (key.startsWith(prefix)) delete requireFromHere.cache[key];
  }
}

function describeExports(value: unknown): string {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return 'none';
  const names = Object.keys(value).filter((k) => k !== 'default');
  return names.length > 0 ? names.sort().join(', ') : 'none';
}

function functionNames(value: unknown): string[] {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return [];
  const names = new Set<string>();
  for (const key of Object.keys(value)) {
    if (typeof (value as Record<string, unknown>)[key] === 'function') names.add(key);
  }
  // Class instances keep their methods on the prototype chain.
  let proto = Object.getPrototypeOf(value) as object | null;
  while (proto !== null && proto !== Object.prototype && proto !== Function.prototype) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key !== 'constructor' && typeof (value as Record<string, unknown>)[key] === 'function') names.add(key);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return [...names].sort();
}

function isClassLike(value: unknown, handlerName: string): value is new () => object {
  if (typeof value !== 'function') return false;
  if (/^class[\s{]/.test(Function.prototype.toString.call(value))) return true;
  // Pre-class constructor functions: methods on the prototype.
  const proto = (value as { prototype?: unknown }).prototype;
  return typeof proto === 'object' && proto !== null && typeof (proto as Record<string, unknown>)[handlerName] === 'function';
}

function getMember(owner: unknown, key: string): unknown {
  if (owner === null || owner === undefined) return undefined;
  if (typeof owner !== 'object' && typeof owner !== 'function') return undefined;
  return (owner as Record<string, unknown>)[key];
}

/** Looks up `Export` or `Export.Inner` in the module namespace, then in its default export. */
function findExport(ns: Record<string, unknown>, exportName: string): unknown {
  const [first, ...rest] = exportName.split('.');
  let value = getMember(ns, first!);
  if (value === undefined) value = getMember(ns['default'], first!);
  for (const key of rest) value = getMember(value, key);
  return value;
}

function instanceOf(cls: new () => object, label: string): object {
  const existing = instances.get(cls);
  if (existing !== undefined) return existing;
  let created: object;
  try {
    created = new cls();
  } catch (cause) {
    const reason = errorMessage(cause);
    throw new AstraError(ErrorCode.PKG_INVALID, `could not instantiate ${label} (no arguments): ${reason}`, { cause });
  }
  instances.set(cls, created);
  return created;
}

function asLoaded(fn: unknown, owner: unknown): LoadedHandler | undefined {
  if (typeof fn !== 'function') return undefined;
  const isAsync = (fn as { constructor?: { name?: string } }).constructor?.name === 'AsyncFunction';
  const bound = owner === undefined ? fn : fn.bind(owner);
  return { fn: bound as HandlerFunction, isAsync };
}

/**
 * Imports an adapter module (from an absolute path, as a `file:` URL) and
 * returns the module namespace. Wraps failures in `E.PKG.INVALID`.
 */
export async function importAdapterModule(
  modulePath: string,
  options: LoadHandlerOptions = {},
): Promise<Record<string, unknown>> {
  if (!isAbsolute(modulePath)) {
    throw new AstraError(ErrorCode.PKG_INVALID, `adapter module path must be absolute: ${modulePath}`);
  }
  let isFile = false;
  try {
    isFile = statSync(modulePath).isFile();
  } catch {
    isFile = false;
  }
  if (!isFile) throw new AstraError(ErrorCode.PKG_INVALID, `adapter module ${modulePath} not found`);
  const { cacheKey } = options;
  let href = pathToFileURL(modulePath).href;
  if (cacheKey !== undefined) {
    const scope = options.packageRoot ?? dirname(modulePath);
    if (lastKeyByScope.get(scope) !== cacheKey) {
      // ESM-loaded CommonJS is cached by file name, not URL: the query alone would not refresh it.
      purgeRequireCache(scope);
      lastKeyByScope.set(scope, cacheKey);
    }
    href += `?v=${encodeURIComponent(cacheKey)}`;
  }
  try {
    return (await import(href)) as Record<string, unknown>;
  } catch (cause) {
    const reason = errorMessage(cause);
    throw new AstraError(ErrorCode.PKG_INVALID, `cannot load adapter module ${modulePath}: ${reason}`, { cause });
  }
}

/**
 * Loads one node handler. Pure (no registry state), so the runner can call it
 * again inside a worker thread with the fields of a `RegisteredHandler`.
 *
 * - Without `exportName`, the handler is the export `handlerName` of the
 *   module, or of its default export (CommonJS `module.exports`).
 * - With `exportName`, it is the method `handlerName` of that export; a class
 *   export is instantiated once, without arguments, and its methods are bound
 *   to the instance.
 *
 * Throws `E.PKG.INVALID` naming the missing module, export or handler.
 */
export async function loadHandler(
  modulePath: string,
  exportName: string | undefined,
  handlerName: string,
  options: LoadHandlerOptions = {},
): Promise<LoadedHandler> {
  const ns = await importAdapterModule(modulePath, options);
  if (exportName === undefined) {
    const direct = asLoaded(ns[handlerName], undefined);
    if (direct !== undefined) return direct;
    const viaDefault = asLoaded(getMember(ns['default'], handlerName), ns['default']);
    if (viaDefault !== undefined) return viaDefault;
    const available = [...new Set([...functionNames(ns), ...functionNames(ns['default'])])].filter((n) => n !== 'default');
    throw new AstraError(
      ErrorCode.PKG_INVALID,
      `handler "${handlerName}" is not a function exported by ${modulePath} (exported functions: ${available.join(', ') || 'none'})`,
    );
  }
  const target = findExport(ns, exportName);
  if (target === undefined || target === null) {
    throw new AstraError(
      ErrorCode.PKG_INVALID,
      `module ${modulePath} has no export "${exportName}" (exports: ${describeExports(ns)})`,
    );
  }
  if (isClassLike(target, handlerName)) {
    const instance = instanceOf(target, exportName);
    const method = asLoaded(getMember(instance, handlerName), instance);
    if (method !== undefined) return method;
  }
  const member = asLoaded(getMember(target, handlerName), target);
  if (member !== undefined) return member;
  const holder = isClassLike(target, handlerName) ? instanceOf(target, exportName) : target;
  throw new AstraError(
    ErrorCode.PKG_INVALID,
    `handler "${handlerName}" is not a method of export "${exportName}" in ${modulePath} (methods: ${functionNames(holder).join(', ') || 'none'})`,
  );
}
