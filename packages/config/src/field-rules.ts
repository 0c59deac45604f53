import { MAX_TIMER_SECONDS, type LogLevel } from '@astraflow/protocol';
import { z } from 'zod';
import { normalizeLogLevel } from './log-level.js';

/** Returned by a rule's string parser when the text is not a valid form at all. */
export const UNPARSABLE: unique symbol = Symbol('unparsable');

/**
 * How one setting is read and checked. Environment values are always
 * strings, file and explicit values keep their types; `fromString` turns the
 * string forms into typed values so every source is validated by the same
 * zod `schema` afterwards.
 */
export interface FieldRule<T> {
  /** Validates the typed value (the shape of the field in `Settings`). */
  readonly schema: z.ZodType<T>;
  /** Human-readable type for docs, e.g. `integer ≥ 1`. */
  readonly type: string;
  /** What an error message says was expected, e.g. `an integer ≥ 1`. */
  readonly expected: string;
  /** Parses the string form (env, `.env`, or a quoted file value). */
  readonly fromString: (raw: string) => unknown;
  /** Adjusts a non-string value before validation (e.g. 0/1 for booleans). */
  readonly fromValue?: (value: unknown) => unknown;
  /** True for paths made absolute after validation. */
  readonly isPath?: boolean;
  /**
   * Type-only marker (never set) that makes `FieldRule<T>` invariant in `T`,
   * so the definitions table cannot drift from the `Settings` interface.
   */
  readonly _type?: (value: T) => T;
}

const identity = (raw: string): unknown => raw;

// Strict decimal form: no hex, no underscores, no units, no Infinity/NaN,
// and never an empty string (which Number() would silently turn into 0).
const NUMBER_FORM = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function parseNumber(raw: string): unknown {
  const text = raw.trim();
  return NUMBER_FORM.test(text) ? Number(text) : UNPARSABLE;
}

const TRUE_WORDS = new Set(['true', '1', 'yes']);
const FALSE_WORDS = new Set(['false', '0', 'no']);

/** Parses true/false/1/0/yes/no, case-insensitively; anything else is unparsable. */
export function parseBooleanWord(raw: string): boolean | typeof UNPARSABLE {
  const word = raw.trim().toLowerCase();
  if (TRUE_WORDS.has(word)) return true;
  if (FALSE_WORDS.has(word)) return false;
  return UNPARSABLE;
}

function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return UNPARSABLE;
  }
}

/** A non-empty string. */
export function text(): FieldRule<string> {
  return { schema: z.string().min(1), type: 'string', expected: 'a non-empty string', fromString: identity };
}

/** An optional non-empty string. */
export function optionalText(): FieldRule<string | undefined> {
  return { schema: z.string().min(1).optional(), type: 'string', expected: 'a non-empty string', fromString: identity };
}

/** An optional filesystem path, made absolute by the loader. */
export function optionalPath(): FieldRule<string | undefined> {
  return { ...optionalText(), type: 'path', expected: 'a non-empty path', isPath: true };
}

/** A filesystem path, made absolute by the loader. */
export function path(): FieldRule<string> {
  return { ...text(), type: 'path', expected: 'a non-empty path', isPath: true };
}

/** A URL whose scheme is one of `schemes` (given without `:`), with a host. */
export function url(schemes: readonly string[]): FieldRule<string> {
  const label = schemes.map((s) => `${s}://`).join(' or ');
  const schema = z.string().refine((value) => {
    if (!schemes.some((s) => value.toLowerCase().startsWith(`${s}://`))) return false;
    try {
      return new URL(value).hostname.length > 0;
    } catch {
      return false;
    }
  });
  return { schema, type: `${label} URL`, expected: `a ${label} URL`, fromString: identity };
}

/** One of a fixed set of words (exact, case-sensitive). */
export function oneOf<const V extends readonly [string, ...string[]]>(values: V): FieldRule<V[number]> {
  return {
    schema: z.enum(values) as unknown as z.ZodType<V[number]>,
    type: values.join(' | '),
    expected: `one of ${values.join(', ')}`,
    fromString: identity,
  };
}

/** An integer in `[min, max]` (max optional). */
export function integer(min: number, max?: number): FieldRule<number> {
  let schema = z.number().int().min(min);
  if (max !== undefined) schema = schema.max(max);
  const range = max === undefined ? `integer ≥ ${min}` : `integer ${min}..${max}`;
  return { schema, type: range, expected: `an ${range}`, fromString: parseNumber };
}

/** A finite number `> 0` (`exclusive`) or `≥ min`, optionally `≤ max`. */
export function number(bound: { gt: number; max?: number } | { min: number; max?: number }): FieldRule<number> {
  let schema = z.number().finite();
  let range: string;
  if ('gt' in bound) {
    schema = schema.gt(bound.gt);
    if (bound.max !== undefined) schema = schema.max(bound.max);
    range = bound.max === undefined ? `number > ${bound.gt}` : `number > ${bound.gt}, ≤ ${bound.max}`;
  } else {
    schema = schema.min(bound.min);
    if (bound.max !== undefined) schema = schema.max(bound.max);
    range = bound.max === undefined ? `number ≥ ${bound.min}` : `number ${bound.min}..${bound.max}`;
  }
  return { schema, type: range, expected: `a ${range}`, fromString: parseNumber };
}

/**
 * A duration in seconds, `> gt` or `≥ min`, and never above
 * `MAX_TIMER_SECONDS` (Node fires longer timers after 1 ms instead).
 */
export function seconds(bound: { gt: number } | { min: number }): FieldRule<number> {
  return number({ ...bound, max: MAX_TIMER_SECONDS });
}

/** A boolean; strings true/false/1/0/yes/no and the numbers 1/0 are accepted too. */
export function boolean(): FieldRule<boolean> {
  return {
    schema: z.boolean(),
    type: 'boolean',
    expected: 'a boolean (true/false/1/0/yes/no)',
    fromString: parseBooleanWord,
    fromValue: (value) => (value === 1 ? true : value === 0 ? false : value),
  };
}

/** A list of non-empty strings (JSON in env); `minItems` defaults to 0. */
export function stringList(minItems = 0): FieldRule<readonly string[]> {
  const what = minItems > 0 ? 'a non-empty JSON array of non-empty strings' : 'a JSON array of non-empty strings';
  return {
    schema: z.array(z.string().min(1)).min(minItems),
    type: minItems > 0 ? 'JSON list of strings (≥ 1)' : 'JSON list of strings',
    expected: what,
    fromString: parseJson,
  };
}

/** An optional list of non-empty strings (JSON in env). */
export function optionalStringList(): FieldRule<readonly string[] | undefined> {
  const { type, expected, fromString } = stringList();
  return { schema: z.array(z.string().min(1)).optional(), type, expected, fromString };
}

/** An optional map of non-empty keys to integers ≥ `min` (JSON in env). */
export function optionalIntegerMap(min: number): FieldRule<Readonly<Record<string, number>> | undefined> {
  return {
    schema: z.record(z.string().min(1), z.number().int().min(min)).optional(),
    type: `JSON map string → integer ≥ ${min}`,
    expected: `a JSON object mapping names to integers ≥ ${min}`,
    fromString: parseJson,
  };
}

/** A log level; TRACE..FATAL and WARNING accepted in any case, stored as pino's lowercase name. */
export function logLevel(): FieldRule<LogLevel> {
  return {
    schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']),
    type: 'trace | debug | info | warn | error | fatal',
    expected: 'one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, FATAL, CRITICAL (any case)',
    fromString: (raw) => normalizeLogLevel(raw) ?? UNPARSABLE,
  };
}
