import type { ManifestAdapter, ManifestNode } from '@astraflow/protocol';
import { describe, expect, it } from 'vitest';
import { AdapterRegistry } from './adapter-registry.js';
import { HANDLER_LOADER_URL } from './load-handler.js';
import type { RegisteredHandler } from './types.js';

function handler(packageName: string, packageVersion: string, nodeType: string, runtime = 'node'): RegisteredHandler {
  const node: ManifestNode = {
    type: nodeType,
    status: 'published',
    category: 'Test',
    label: nodeType,
    adapter: 'main',
    handler: 'run',
    schema: true,
  };
  const adapter: ManifestAdapter = { name: 'main', entrypoint: 'adapters/main.js', capabilities: [nodeType] };
  return {
    packageName,
    packageVersion,
    nodeType,
    runtime,
    node,
    adapter,
    packageRoot: `/pkgs/${packageName}/${packageVersion}`,
    modulePath: `/pkgs/${packageName}/${packageVersion}/adapters/main.js`,
    exportName: undefined,
    handlerName: 'run',
    fn: runtime === 'node' ? () => `${packageName}@${packageVersion}:${nodeType}` : undefined,
    isAsync: false,
    execMode: undefined,
    metadata: {},
    loaderUrl: HANDLER_LOADER_URL,
  };
}

const thrown = (fn: () => unknown): { code?: string; message?: string } => {
  try {
    fn();
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  return {};
};

describe('AdapterRegistry', () => {
  it('keeps several versions of a package side by side', () => {
    const registry = new AdapterRegistry();
    registry.register(handler('echo', '1.0.0', 'echo.echo'));
    registry.register(handler('echo', '2.0.0', 'echo.echo'));
    expect(registry.resolve('echo', '1.0.0', 'echo.echo').fn?.(undefined as never)).toBe('echo@1.0.0:echo.echo');
    expect(registry.resolve('echo', '2.0.0', 'echo.echo').fn?.(undefined as never)).toBe('echo@2.0.0:echo.echo');
    expect(registry.versions('echo')).toEqual(['1.0.0', '2.0.0']);
  });

  it('explains a failed lookup with what is available', () => {
    const registry = new AdapterRegistry();
    registry.register(handler('echo', '1.0.0', 'echo.echo'));
    registry.register(handler('echo', '1.0.0', 'echo.fail'));
    registry.register(handler('echo', '2.0.0', 'echo.echo'));
    expect(thrown(() => registry.resolve('nope', '1.0.0', 'x'))).toEqual({
      code: 'E.PKG.NOT_FOUND',
      message: 'package "nope" is not installed (installed packages: echo)',
    });
    expect(thrown(() => registry.resolve('echo', '3.0.0', 'echo.echo'))).toEqual({
      code: 'E.PKG.NOT_FOUND',
      message: 'package "echo" has no version 3.0.0 (installed versions: 1.0.0, 2.0.0)',
    });
    expect(thrown(() => registry.resolve('echo', '1.0.0', 'echo.nope'))).toEqual({
      code: 'E.PKG.NOT_FOUND',
      message: 'package echo@1.0.0 has no node type "echo.nope" (node types: echo.echo, echo.fail)',
    });
  });

  it('refuses nodes of a runtime the worker does not have', () => {
    const registry = new AdapterRegistry({ runtimes: ['node'] });
    registry.register(handler('example.pkg', '1.0.0', 'example.pkg.echo', 'python'));
    expect(thrown(() => registry.resolve('example.pkg', '1.0.0', 'example.pkg.echo'))).toEqual({
      code: 'E.PKG.RUNTIME_UNSUPPORTED',
      message: 'runtime python not available on this worker (has: node)',
    });
  });

  it('unregisters one version without touching the others, and lists in a stable order', () => {
    const registry = new AdapterRegistry();
    registry.register(handler('b', '1.0.0', 'b.x'));
    registry.register(handler('a', '10.0.0', 'a.y'));
    registry.register(handler('a', '9.0.0', 'a.y'));
    registry.register(handler('a', '9.0.0', 'a.x'));
    expect(registry.list().map((h) => `${h.packageName}@${h.packageVersion}:${h.nodeType}`)).toEqual([
      'a@9.0.0:a.x',
      'a@9.0.0:a.y',
      'a@10.0.0:a.y',
      'b@1.0.0:b.x',
    ]);
    expect(registry.unregisterVersion('a', '9.0.0').map((h) => h.nodeType)).toEqual(['a.x', 'a.y']);
    expect(registry.has('a', '9.0.0')).toBe(false);
    expect(registry.resolve('a', '10.0.0', 'a.y').packageVersion).toBe('10.0.0');
    expect(registry.unregisterVersion('a', '9.0.0')).toEqual([]);
  });
});
