import { z } from 'zod';
import { jsonObject } from './common.js';

const semverCore = /^[0-9]+\.[0-9]+\.[0-9]+$/;

/**
 * Adapter entrypoints. Upstream accepts Python module paths
 * (`adapters.echo`, `adapters.echo:Echo`); JavaScript packages may also name
 * a file relative to the package root (`adapters/echo.js`,
 * `adapters/echo.mjs:EchoAdapter`). Absolute paths and `..` segments are
 * refused so an entrypoint can never leave its package folder.
 */
const entrypoint = z
  .string()
  .regex(/^(?:[A-Za-z0-9_@-][A-Za-z0-9_.@-]*\/)*[A-Za-z0-9_@-][A-Za-z0-9_.@-]*(?::[A-Za-z_$][A-Za-z0-9_$.]*)?$/, {
    message: 'entrypoint must be a relative module path like adapters/echo.js, adapters/echo.mjs:Export or adapters.echo',
  })
  .refine((value) => !value.split(':')[0]!.split('/').includes('..'), { message: 'entrypoint must not contain ".."' });

const Binding = z.strictObject({
  path: z.string(),
  mode: z.enum(['read', 'write', 'two_way']).optional(),
  prefix: z.string().optional(),
  scope: z
    .strictObject({
      kind: z.enum(['local', 'subgraph']).optional(),
      subgraphAliases: z.array(z.string()).optional(),
      nodeId: z.string().optional(),
      prefix: z.string().optional(),
    })
    .optional(),
});
const Port = z.strictObject({ key: z.string(), label: z.string(), binding: Binding });
const Widget = z.strictObject({
  key: z.string(),
  label: z.string(),
  component: z.string(),
  binding: Binding,
  options: jsonObject.optional(),
});
const sha256 = z.string().regex(/^[A-Fa-f0-9]{64}$/);

/** One adapter module of a package. */
export const ManifestAdapterSchema = z.strictObject({
  name: z.string(),
  entrypoint,
  capabilities: z.array(z.string()).min(1),
  description: z.string().optional(),
  idempotency: z.string().optional(),
  metadata: jsonObject.optional(),
});

/** One node type a package provides. */
export const ManifestNodeSchema = z.strictObject({
  type: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  // Not in the upstream schema, but upstream's own system package uses it.
  role: z.string().optional(),
  status: z.enum(['draft', 'published', 'deprecated']),
  category: z.string(),
  label: z.string(),
  description: z.string().optional(),
  tags: z.array(z.string()).optional(),
  adapter: z.string().regex(/^[A-Za-z0-9_.-]+$/),
  handler: z.string().regex(/^[A-Za-z_$][A-Za-z0-9_$]*$/),
  config: jsonObject.optional(),
  schema: z.union([jsonObject, z.boolean()]),
  ui: z
    .strictObject({
      inputPorts: z.array(Port).optional(),
      widgets: z.array(Widget).optional(),
      outputPorts: z.array(Port).optional(),
    })
    .optional(),
});

/** Runtime requirement block: `python` upstream, `node` for JavaScript packages. */
export const RuntimeRequirementSchema = z.strictObject({
  requires: z.string(),
  dependencies: z.array(z.string()).optional(),
});

/**
 * A package manifest (`manifest.json`): the upstream schema
 * (`manifest.schema.json`) plus a `node` block beside or instead of `python`.
 */
export const ManifestSchema = z
  .strictObject({
    schemaVersion: z.string().regex(semverCore),
    name: z.string().regex(/^[a-z0-9]+([._-][a-z0-9]+)*$/),
    version: z.string().regex(/^[0-9]+\.[0-9]+\.[0-9]+(?:[-+][0-9A-Za-z.-]+)?$/),
    description: z.string(),
    adapters: z.array(ManifestAdapterSchema).min(1),
    python: RuntimeRequirementSchema.optional(),
    node: RuntimeRequirementSchema.optional(),
    nodes: z.array(ManifestNodeSchema).min(1),
    resources: z.array(z.strictObject({ path: z.string(), type: z.string(), sha256: sha256.optional() })).optional(),
    hooks: z.strictObject({ install: z.array(z.string()).optional(), uninstall: z.array(z.string()).optional() }).optional(),
    signature: z
      .strictObject({ sha256: sha256.optional(), signedAt: z.string().optional(), signedBy: z.string().optional() })
      .optional(),
  })
  .refine((m) => m.python !== undefined || m.node !== undefined, {
    message: 'manifest needs a "node" or "python" runtime block',
    path: ['node'],
  });

export type ManifestAdapter = z.infer<typeof ManifestAdapterSchema>;
export type ManifestNode = z.infer<typeof ManifestNodeSchema>;
export type RuntimeRequirement = z.infer<typeof RuntimeRequirementSchema>;
export type Manifest = z.infer<typeof ManifestSchema>;
