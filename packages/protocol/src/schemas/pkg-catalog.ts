import { z } from 'zod';
import { jsonObject, nonEmpty } from './common.js';
import { ManifestSchema } from './manifest.js';

/** `biz.pkg.catalog` payload (`biz/pkg.catalog.schema.json`). */
export const PkgCatalogPayloadSchema = z.strictObject({
  packages: z.array(
    z.strictObject({
      name: nonEmpty,
      version: nonEmpty,
      status: z.enum(['installed', 'missing', 'failed']),
      source: z.string().optional(),
      manifest: ManifestSchema,
      metadata: jsonObject.optional(),
    }),
  ),
});

export type PkgCatalogPayload = z.infer<typeof PkgCatalogPayloadSchema>;
