/**
 * Test support: the normative JSON Schemas (copied into `../schemas`)
 * compiled with ajv, as an independent oracle for our zod schemas.
 */
import { readFileSync, readdirSync } from 'node:fs';
import ajv2020Module from 'ajv/dist/2020.js';
import type { ErrorObject, ValidateFunction } from 'ajv';
import ajvFormatsModule from 'ajv-formats';
import { FrameType, type KnownFrameType } from './frame-types.js';

// Both are CommonJS; under NodeNext the default import is `module.exports`,
// whose `default` member is the class / plugin itself.
const Ajv2020 = ajv2020Module.default;
const addFormats = ajvFormatsModule.default;

const SCHEMA_ROOT = new URL('../schemas/', import.meta.url);

/** Frame type → schema file (relative to `schemas/`), as docs/protocol.md §2 lists them. */
export const SCHEMA_FILE_OF_TYPE: Record<KnownFrameType, string> = {
  [FrameType.HANDSHAKE]: 'session/handshake.schema.json',
  [FrameType.ACK]: 'session/ack.schema.json',
  [FrameType.REGISTER]: 'session/register.schema.json',
  [FrameType.SESSION_ACCEPT]: 'session/session.accept.schema.json',
  [FrameType.RESUME]: 'session/session.resume.schema.json',
  [FrameType.HEARTBEAT]: 'session/heartbeat.schema.json',
  [FrameType.RESET]: 'session/session.reset.schema.json',
  [FrameType.DRAIN]: 'session/session.drain.schema.json',
  [FrameType.EXEC_DISPATCH]: 'biz/exec.dispatch.schema.json',
  [FrameType.EXEC_RESULT]: 'biz/exec.result.schema.json',
  [FrameType.EXEC_ERROR]: 'biz/exec.error.schema.json',
  [FrameType.EXEC_FEEDBACK]: 'biz/exec.feedback.schema.json',
  [FrameType.EXEC_NEXT_REQUEST]: 'biz/exec.next.request.schema.json',
  [FrameType.EXEC_NEXT_RESPONSE]: 'biz/exec.next.response.schema.json',
  [FrameType.PKG_INSTALL]: 'biz/pkg.install.schema.json',
  [FrameType.PKG_UNINSTALL]: 'biz/pkg.uninstall.schema.json',
  [FrameType.PKG_EVENT]: 'biz/pkg.event.schema.json',
  [FrameType.PKG_CATALOG]: 'biz/pkg.catalog.schema.json',
};

/** Every `*.schema.json` below `schemas/`, as paths relative to it. */
export function listSchemaFiles(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(new URL(dir, SCHEMA_ROOT), { withFileTypes: true })) {
      if (entry.isDirectory()) walk(`${dir}${entry.name}/`);
      else if (entry.name.endsWith('.schema.json')) out.push(`${dir}${entry.name}`);
    }
  };
  walk('');
  return out.sort();
}

/** Reads one schema file as JSON. */
export function readSchema(file: string): Record<string, unknown> {
  return JSON.parse(readFileSync(new URL(file, SCHEMA_ROOT), 'utf8')) as Record<string, unknown>;
}

/** A compiled validator that answers with a verdict and readable errors. */
export type Oracle = (value: unknown) => { valid: boolean; errors: string[] };

function wrap(validate: ValidateFunction): Oracle {
  return (value) => {
    const valid = validate(value);
    const errors = (validate.errors ?? []).map((e: ErrorObject) => `${e.instancePath || '(root)'} ${e.message ?? ''}`);
    return { valid, errors };
  };
}

/** The ajv side of the cross-check: one validator per frame type, plus envelope and manifest. */
export interface AjvOracle {
  envelope: Oracle;
  manifest: Oracle;
  payload: Record<KnownFrameType, Oracle>;
  /** Envelope, then the payload schema of a known type (unknown types: envelope only), like `parseFrame`. */
  frame: Oracle;
}

/** Compiles every schema under `schemas/` with ajv 2020-12 + ajv-formats. */
export function createAjvOracle(): AjvOracle {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  const manifest = readSchema('manifest.schema.json');
  ajv.addSchema(manifest);
  // pkg.catalog points at `../manifest.schema.json#` relative to its own $id,
  // which is not where the manifest schema's $id lives: register it there too.
  const catalog = readSchema(SCHEMA_FILE_OF_TYPE[FrameType.PKG_CATALOG]);
  const manifestRef = new URL('../manifest.schema.json', String(catalog.$id)).href;
  ajv.addSchema({ ...manifest, $id: manifestRef });

  const payload = {} as Record<KnownFrameType, Oracle>;
  for (const [type, file] of Object.entries(SCHEMA_FILE_OF_TYPE) as [KnownFrameType, string][]) {
    payload[type] = wrap(ajv.compile(readSchema(file)));
  }
  const envelope = wrap(ajv.compile(readSchema('session/envelope.schema.json')));
  const frame: Oracle = (value) => {
    const outer = envelope(value);
    if (!outer.valid) return outer;
    const type = (value as { type: string }).type;
    const check = Object.hasOwn(payload, type) ? payload[type as KnownFrameType] : undefined;
    return check ? check((value as { payload: unknown }).payload) : outer;
  };
  return { envelope, manifest: wrap(ajv.getSchema(String(manifest.$id))!), payload, frame };
}
