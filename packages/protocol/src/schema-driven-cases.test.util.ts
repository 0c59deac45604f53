/**
 * Test support: derives cases from a valid value by walking it together with
 * its JSON Schema, rule by rule, at every depth: each required member
 * removed, each optional one removed (still valid), null where null is
 * allowed (valid), each member of the wrong type, empty strings under
 * `minLength`, values past `minimum`/`maximum`, fractions for integers,
 * strings outside an `enum`/`pattern`/`format`, extra members where
 * `additionalProperties` is false, arrays under `minItems`.
 */

type Schema = Record<string, unknown>;
type Path = (string | number)[];

/** One derived case: the whole value, changed at one place. */
export interface DerivedCase {
  name: string;
  value: unknown;
  valid: boolean;
}

/** Resolves a `$ref` met under `root` to the schema it names and that schema's root. */
export type RefResolver = (ref: string, root: Schema) => { schema: Schema; root: Schema };

/** Resolves `#/…` pointers inside `root`; other references go to `external`. */
export function createRefResolver(external: (absolute: string) => Schema): RefResolver {
  return (ref, root) => {
    if (ref.startsWith('#')) {
      let node: unknown = root;
      for (const part of ref.slice(1).split('/').filter(Boolean)) node = (node as Schema)[decodeURIComponent(part)];
      return { schema: node as Schema, root };
    }
    const absolute = new URL(ref, String(root.$id)).href.replace(/#$/, '');
    const target = external(absolute);
    return { schema: target, root: target };
  };
}

interface Edit {
  path: Path;
  label: string;
  valid: boolean;
  /** `undefined` removes the member. */
  replacement?: unknown;
  remove?: boolean;
}

function jsonTypeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** A value of a JSON type that `types` does not allow, preferably unlike `value`. */
function wrongTypeFor(value: unknown, types: string[]): unknown {
  const allowed = (candidate: unknown): boolean => {
    const type = jsonTypeOf(candidate);
    return types.includes(type) || (type === 'integer' && types.includes('number'));
  };
  const preferred =
    typeof value === 'string' ? 42 : typeof value === 'number' ? 'seven' : Array.isArray(value) ? { 0: 'x' } : ['x'];
  return [preferred, true, 'text', [], {}, null, 0.5].find((candidate) => !allowed(candidate));
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function collect(value: unknown, node: Schema, root: Schema, resolve: RefResolver, path: Path, out: Edit[]): void {
  if (typeof node.$ref === 'string') {
    const target = resolve(node.$ref, root);
    collect(value, target.schema, target.root, resolve, path, out);
    return;
  }
  const types = Array.isArray(node.type) ? (node.type as string[]) : typeof node.type === 'string' ? [node.type] : [];
  if (node.nullable === true) types.push('null');
  if (types.length > 0) out.push({ path, label: 'of the wrong type', valid: false, replacement: wrongTypeFor(value, types) });
  if (value === null) return;
  if (types.includes('null')) out.push({ path, label: 'null (allowed)', valid: true, replacement: null });

  if (typeof value === 'string') {
    if (typeof node.minLength === 'number' && node.minLength >= 1 && value !== '') {
      out.push({ path, label: 'empty', valid: false, replacement: '' });
    }
    if (Array.isArray(node.enum)) out.push({ path, label: 'outside the enum', valid: false, replacement: 'not-in-enum' });
    if (typeof node.pattern === 'string' && !new RegExp(node.pattern).test('!!')) {
      out.push({ path, label: 'against the pattern', valid: false, replacement: '!!' });
    }
    if (node.format === 'date-time') out.push({ path, label: 'not a date-time', valid: false, replacement: '2024-05-01' });
    if (node.format === 'uri') out.push({ path, label: 'not a uri', valid: false, replacement: 'no scheme' });
  } else if (typeof value === 'number') {
    if (typeof node.minimum === 'number') out.push({ path, label: 'below minimum', valid: false, replacement: node.minimum - 1 });
    if (typeof node.maximum === 'number')
      out.push({ path, label: 'above maximum', valid: false, replacement: node.maximum + 0.5 });
    if (types.includes('integer')) {
      out.push({
        path,
        label: 'a fraction',
        valid: false,
        replacement: (typeof node.minimum === 'number' ? node.minimum : 0) + 0.5,
      });
    }
  } else if (Array.isArray(value)) {
    if (typeof node.minItems === 'number' && node.minItems >= 1 && value.length > 0) {
      out.push({ path, label: 'under minItems', valid: false, replacement: [] });
    }
    if (isPlainObject(node.items)) {
      value.slice(0, 2).forEach((item, index) => {
        collect(item, node.items as Schema, root, resolve, [...path, index], out);
      });
    }
  } else if (isPlainObject(value)) {
    const properties = isPlainObject(node.properties) ? (node.properties as Record<string, Schema>) : {};
    const required = Array.isArray(node.required) ? (node.required as string[]) : [];
    for (const [key, member] of Object.entries(value)) {
      const child = Object.hasOwn(properties, key)
        ? properties[key]
        : isPlainObject(node.additionalProperties)
          ? (node.additionalProperties as Schema)
          : undefined;
      if (Object.hasOwn(properties, key)) {
        const isRequired = required.includes(key);
        out.push({
          path: [...path, key],
          label: isRequired ? 'removed (required)' : 'removed (optional)',
          valid: !isRequired,
          remove: true,
        });
      }
      if (child) collect(member, child, root, resolve, [...path, key], out);
    }
    if (node.additionalProperties === false) {
      out.push({ path: [...path, 'unexpected_member'], label: 'added (no additional properties)', valid: false, replacement: 1 });
    }
  }
}

function apply(value: unknown, edit: Edit): unknown {
  if (edit.path.length === 0) return edit.replacement;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node: Record<string | number, unknown> = copy;
  for (const part of edit.path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  const last = edit.path[edit.path.length - 1]!;
  if (edit.remove) delete node[last];
  else node[last] = edit.replacement;
  return copy;
}

/** Every case derived from `value` (valid for `schema`), deduplicated, with readable names. */
export function deriveCases(value: unknown, schema: Schema, resolve: RefResolver): DerivedCase[] {
  const edits: Edit[] = [];
  collect(value, schema, schema, resolve, [], edits);
  const seen = new Set<string>();
  const cases: DerivedCase[] = [];
  for (const edit of edits) {
    const name = `${edit.path.join('.') || '(root)'} ${edit.label}`;
    const changed = apply(value, edit);
    const key = JSON.stringify(changed);
    if (seen.has(key)) continue;
    seen.add(key);
    cases.push({ name, value: changed, valid: edit.valid });
  }
  return cases;
}
