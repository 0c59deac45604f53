import { AstraError, ErrorCode } from '@astraflow/protocol';

/** Containers whose `JSON.stringify` output silently loses their content. */
const LOSSY_CONTAINERS: ReadonlyArray<[new (...args: never[]) => object, string]> = [
  [Map, 'a Map'],
  [Set, 'a Set'],
  [WeakMap, 'a WeakMap'],
  [WeakSet, 'a WeakSet'],
  [Promise, 'a Promise'],
];

function describePath(path: string): string {
  return path === '' ? 'the value' : path;
}

function fail(path: string, what: string, where: string): never {
  throw new AstraError(
    ErrorCode.RUNNER_FAILURE,
    `${where}: ${describePath(path)} is ${what}, which cannot be serialised to JSON`,
    {
      details: { path: path === '' ? '$' : path },
    },
  );
}

/**
 * Returns a plain JSON copy of `value`, or throws `E.RUNNER.FAILURE` naming
 * the first offending path.
 *
 * `JSON.stringify` alone is not enough: it silently drops functions and
 * symbols, turns `NaN`/`Infinity` into `null` and `Map`/`Set` into `{}`, so
 * a result would reach the scheduler with data missing. Here those are
 * errors. `undefined` object members are omitted (as JSON does) and
 * `toJSON()` (e.g. `Date`) is honoured.
 *
 * @param value - Anything a handler produced.
 * @param where - Prefix for the error message (e.g. `handler result`).
 */
export function toJsonValue(value: unknown, where = 'value'): unknown {
  const ancestors: object[] = [];

  const visit = (input: unknown, path: string, key: string): unknown => {
    let current = input;
    if (current !== null && typeof current === 'object' && typeof (current as { toJSON?: unknown }).toJSON === 'function') {
      current = (current as { toJSON(key: string): unknown }).toJSON(key);
    }
    switch (typeof current) {
      case 'string':
      case 'boolean':
        return current;
      case 'number':
        if (!Number.isFinite(current)) fail(path, `a non-finite number (${String(current)})`, where);
        return current;
      case 'bigint':
        return fail(path, 'a BigInt', where);
      case 'function':
        return fail(path, 'a function', where);
      case 'symbol':
        return fail(path, 'a symbol', where);
      case 'undefined':
        return undefined;
      default:
        break;
    }
    if (current === null) return null;
    const object = current as object;
    for (const [type, label] of LOSSY_CONTAINERS) {
      if (object instanceof type) fail(path, label, where);
    }
    if (ancestors.includes(object)) fail(path, 'a circular reference', where);
    ancestors.push(object);
    try {
      if (Array.isArray(object)) {
        return object.map((item: unknown, index) => {
          const itemPath = `${path}[${index}]`;
          // JSON turns holes and `undefined` items into null; make that explicit rather than lossy.
          if (item === undefined) fail(itemPath, 'undefined inside an array', where);
          return visit(item, itemPath, String(index));
        });
      }
      if (Object.getOwnPropertySymbols(object).some((symbol) => Object.prototype.propertyIsEnumerable.call(object, symbol))) {
        fail(path, 'an object with symbol keys', where);
      }
      const copy: Record<string, unknown> = {};
      for (const [name, member] of Object.entries(object)) {
        const memberPath = path === '' ? name : `${path}.${name}`;
        const converted = visit(member, memberPath, name);
        if (converted !== undefined) copy[name] = converted;
      }
      return copy;
    } finally {
      ancestors.pop();
    }
  };

  return visit(value, '', '');
}

/** True for a non-null, non-array object (a JSON object). */
export function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
