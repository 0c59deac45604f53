import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  AstraError,
  ErrorCode,
  errorMessage,
  isExecMode,
  ManifestSchema,
  type ExecMode,
  type Manifest,
} from '@astraflow/protocol';

/** A validated manifest, and the JSON object it was parsed from (what `control.register` carries). */
export interface LoadedManifest {
  manifest: Manifest;
  raw: Record<string, unknown>;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** `node.config.exec_mode`, else `adapter.metadata.exec_mode`, when either is set. */
export function execModeOf(
  nodeConfig: Record<string, unknown> | undefined,
  adapterMetadata: Record<string, unknown> | undefined,
): ExecMode | undefined {
  const value = nodeConfig?.['exec_mode'] ?? adapterMetadata?.['exec_mode'];
  return isExecMode(value) ? value : undefined;
}

/** Cross-field rules the schema cannot express. Throws `E.PKG.INVALID`. */
export function checkManifestConsistency(manifest: Manifest): void {
  const problems: string[] = [];
  const adapters = new Set<string>();
  for (const adapter of manifest.adapters) {
    if (adapters.has(adapter.name)) problems.push(`adapter "${adapter.name}" is declared twice`);
    adapters.add(adapter.name);
    const mode = adapter.metadata?.['exec_mode'];
    if (mode !== undefined && !isExecMode(mode)) {
      problems.push(`adapter "${adapter.name}": metadata.exec_mode must be auto, inline or thread`);
    }
  }
  const types = new Set<string>();
  for (const node of manifest.nodes) {
    if (types.has(node.type)) problems.push(`node type "${node.type}" is declared twice`);
    types.add(node.type);
    if (!adapters.has(node.adapter)) problems.push(`node "${node.type}" uses unknown adapter "${node.adapter}"`);
    const mode = node.config?.['exec_mode'];
    if (mode !== undefined && !isExecMode(mode)) {
      problems.push(`node "${node.type}": config.exec_mode must be auto, inline or thread`);
    }
  }
  if (problems.length > 0) {
    throw new AstraError(ErrorCode.PKG_INVALID, `manifest.json is inconsistent: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
}

/**
 * Reads `<root>/manifest.json` and validates it against the manifest schema
 * and {@link checkManifestConsistency}. Throws `E.PKG.INVALID` with the issues.
 */
export async function readManifest(root: string): Promise<LoadedManifest> {
  const file = join(root, 'manifest.json');
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > MAX_MANIFEST_BYTES) {
      throw new AstraError(ErrorCode.PKG_INVALID, `manifest.json is larger than ${MAX_MANIFEST_BYTES} bytes`);
    }
    text = bytes.toString('utf8');
  } catch (cause) {
    if (AstraError.isInstance(cause)) throw cause;
    const missing = (cause as { code?: unknown }).code === 'ENOENT';
    throw new AstraError(
      ErrorCode.PKG_INVALID,
      missing ? 'manifest.json not found' : `cannot read manifest.json: ${String(cause)}`,
      {
        cause,
      },
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new AstraError(ErrorCode.PKG_INVALID, `manifest.json is not valid JSON: ${errorMessage(cause)}`, { cause });
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    const shown = issues.slice(0, 8).map((i) => `${i.path}: ${i.message}`);
    if (issues.length > shown.length) shown.push(`… ${issues.length - shown.length} more`);
    throw new AstraError(ErrorCode.PKG_INVALID, `manifest.json is invalid: ${shown.join('; ')}`, { details: { issues } });
  }
  checkManifestConsistency(parsed.data);
  return { manifest: parsed.data, raw: json as Record<string, unknown> };
}
