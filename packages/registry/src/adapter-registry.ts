import { AstraError, ErrorCode } from '@astraflow/protocol';
import type { RegisteredHandler } from './types.js';
import { compareVersions } from './versions.js';

/** Options of {@link AdapterRegistry}. */
export interface AdapterRegistryOptions {
  /** Runtimes this worker can execute (for error messages and checks). Default `['node']`. */
  runtimes?: readonly string[];
}

type NodeMap = Map<string, RegisteredHandler>;
type VersionMap = Map<string, NodeMap>;

function sortedKeys<T>(map: Map<string, T>, compare?: (a: string, b: string) => number): string[] {
  return [...map.keys()].sort(compare);
}

/**
 * Maps (package, version, node type) to its handler and metadata. Several
 * versions of one package live side by side; lookups never guess a version.
 * Filled and emptied by the package manager; the runner only resolves.
 */
export class AdapterRegistry {
  private readonly packages = new Map<string, VersionMap>();
  private readonly runtimes: readonly string[];

  constructor(options: AdapterRegistryOptions = {}) {
    this.runtimes = [...(options.runtimes ?? ['node'])];
  }

  /**
   * Adds one handler. A handler already registered for the same package,
   * version and node type is replaced (the package manager removes a version
   * as a whole before it registers it again).
   */
  register(handler: RegisteredHandler): void {
    let versions = this.packages.get(handler.packageName);
    if (versions === undefined) {
      versions = new Map();
      this.packages.set(handler.packageName, versions);
    }
    let nodes = versions.get(handler.packageVersion);
    if (nodes === undefined) {
      nodes = new Map();
      versions.set(handler.packageVersion, nodes);
    }
    nodes.set(handler.nodeType, handler);
  }

  /** Removes every handler of one version; returns what was removed (empty when nothing was registered). */
  unregisterVersion(name: string, version: string): RegisteredHandler[] {
    const versions = this.packages.get(name);
    const nodes = versions?.get(version);
    if (versions === undefined || nodes === undefined) return [];
    versions.delete(version);
    if (versions.size === 0) this.packages.delete(name);
    return sortedKeys(nodes).map((k) => nodes.get(k)!);
  }

  /** True when at least one handler of `name@version` is registered. */
  has(name: string, version: string): boolean {
    return this.packages.get(name)?.has(version) ?? false;
  }

  /** Registered versions of a package, in version order. */
  versions(name: string): string[] {
    const versions = this.packages.get(name);
    return versions === undefined ? [] : sortedKeys(versions, compareVersions);
  }

  /**
   * The handler of one node type. Throws `E.PKG.NOT_FOUND` listing what is
   * available (packages, versions of the package, or node types of the
   * version), and `E.PKG.RUNTIME_UNSUPPORTED` for nodes of a runtime this
   * worker cannot run.
   */
  resolve(name: string, version: string, nodeType: string): RegisteredHandler {
    const versions = this.packages.get(name);
    if (versions === undefined) {
      const names = sortedKeys(this.packages);
      throw new AstraError(
        ErrorCode.PKG_NOT_FOUND,
        `package "${name}" is not installed (installed packages: ${names.join(', ') || 'none'})`,
        { details: { package: name, version, node_type: nodeType, available_packages: names } },
      );
    }
    const nodes = versions.get(version);
    if (nodes === undefined) {
      const available = sortedKeys(versions, compareVersions);
      throw new AstraError(
        ErrorCode.PKG_NOT_FOUND,
        `package "${name}" has no version ${version} (installed versions: ${available.join(', ')})`,
        { details: { package: name, version, node_type: nodeType, available_versions: available } },
      );
    }
    const handler = nodes.get(nodeType);
    if (handler === undefined) {
      const available = sortedKeys(nodes);
      throw new AstraError(
        ErrorCode.PKG_NOT_FOUND,
        `package ${name}@${version} has no node type "${nodeType}" (node types: ${available.join(', ')})`,
        { details: { package: name, version, node_type: nodeType, available_node_types: available } },
      );
    }
    if (handler.fn === undefined || !this.runtimes.includes(handler.runtime)) {
      throw new AstraError(
        ErrorCode.PKG_RUNTIME_UNSUPPORTED,
        `runtime ${handler.runtime} not available on this worker (has: ${this.runtimes.join(', ') || 'none'})`,
        { details: { package: name, version, node_type: nodeType, runtime: handler.runtime } },
      );
    }
    return handler;
  }

  /** Every registered handler, ordered by package name, version, node type. */
  list(): RegisteredHandler[] {
    const out: RegisteredHandler[] = [];
    for (const name of sortedKeys(this.packages)) {
      const versions = this.packages.get(name)!;
      for (const version of sortedKeys(versions, compareVersions)) {
        const nodes = versions.get(version)!;
        for (const nodeType of sortedKeys(nodes)) out.push(nodes.get(nodeType)!);
      }
    }
    return out;
  }
}

/** Creates an empty {@link AdapterRegistry}. */
export function createAdapterRegistry(options: AdapterRegistryOptions = {}): AdapterRegistry {
  return new AdapterRegistry(options);
}
