import { isAbsolute, join, resolve } from 'node:path';
import { AstraError, ErrorCode } from '@astraflow/protocol';
import { configError, describeValue } from './config-error.js';
import { defaultConfigPaths, pathExists, readConfigFile } from './config-file.js';
import { readDotenvFile } from './dotenv-file.js';
import { expandPath } from './expand-path.js';
import { UNPARSABLE } from './field-rules.js';
import { closestName } from './closest-name.js';
import { PYTHON_WORKER_ONLY_KEYS } from './python-worker-keys.js';
import { defaultOf, isSettingName, settingDefinitions, settingNames } from './setting-definitions.js';
import { envVarName } from './setting-fields.js';
import { SettingsSchema } from './settings-schema.js';
import type { Settings } from './settings.js';

/** Options of {@link loadSettings}; every one has a process-wide default. */
export interface LoadSettingsOptions {
  /** Folder for `.env`, `./config/...` and relative paths. Default `process.cwd()`. */
  cwd?: string;
  /** Environment to read (never modified). Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Config files tried, in order, when `ASTRA_WORKER_CONFIG_FILE` is not set. Default {@link defaultConfigPaths}. */
  defaultPaths?: readonly string[];
  /**
   * Called once with a one-line message when the config file holds keys only the Python
   * worker uses (they are ignored). Default: ignore silently.
   */
  onWarning?: (message: string) => void;
}

/** Names the environment variable that points at the config file. */
export const CONFIG_FILE_ENV = 'ASTRA_WORKER_CONFIG_FILE';
/** Legacy/shared alias of `ASTRA_WORKER_PACKAGES_DIR`; the latter wins at the same level. */
export const PACKAGES_ROOT_ENV = 'ASTRA_PACKAGES_ROOT';

// Higher wins; also used to decide which side of a cross-field conflict to blame.
const Rank = { Default: 0, Dotenv: 1, Env: 2, File: 3, Explicit: 4 } as const;
type Rank = (typeof Rank)[keyof typeof Rank];

interface Candidate {
  readonly raw: unknown;
  readonly source: string;
  readonly rank: Rank;
}

interface Resolved {
  readonly value: unknown;
  readonly source: string;
  readonly rank: Rank;
}

type Vars = Readonly<Record<string, string | undefined>>;

/** An empty variable counts as unset, so `.env` templates with blank entries do not break start-up. */
function readVar(vars: Vars, name: string): string | undefined {
  const value = Object.hasOwn(vars, name) ? vars[name] : undefined;
  return value === undefined || value === '' ? undefined : value;
}

function varCandidate(name: keyof Settings, vars: Vars, rank: Rank, label: (v: string) => string): Candidate | undefined {
  const names = name === 'packages_dir' ? [envVarName(name), PACKAGES_ROOT_ENV] : [envVarName(name)];
  for (const variable of names) {
    const raw = readVar(vars, variable);
    if (raw !== undefined) return { raw, source: label(variable), rank };
  }
  return undefined;
}

function rejectUnknownKeys(
  values: Readonly<Record<string, unknown>>,
  source: string,
  where: string,
  path?: string,
  tolerated: ReadonlySet<string> = new Set(),
): void {
  for (const key of Object.keys(values)) {
    if (isSettingName(key) || tolerated.has(key)) continue;
    const guess = closestName(key, settingNames);
    const hint = guess === undefined ? '' : ` (did you mean ${guess}?)`;
    throw configError(
      `unknown setting "${key}" in ${where}${hint}`,
      path === undefined ? { source, field: key } : { source, field: key, path },
    );
  }
}

function isOptional(name: keyof Settings): boolean {
  return settingDefinitions[name].rule.schema.safeParse(undefined).success;
}

/**
 * Loads, merges and validates the worker settings (see this package's
 * README). Per field, the first source that sets it wins:
 * `explicit` > config file > `ASTRA_WORKER_<NAME>` environment > `.env` in
 * `cwd` > default. Synchronous; returns a deeply frozen object; throws an
 * `AstraError` with code `E.CONFIG.INVALID` and a one-line message naming
 * the field, the source and what was expected. `process.env` is never modified.
 *
 * @example
 * ```ts
 * const settings = loadSettings({ worker_name: 'gpu-7' }, { cwd: '/srv/worker' });
 * settings.packages_dir; // '/srv/worker/node-packages' unless configured
 * ```
 */
export function loadSettings(
  explicit: Partial<Record<keyof Settings, unknown>> = {},
  options: LoadSettingsOptions = {},
): Settings {
  const cwd = resolve(options.cwd ?? process.cwd());
  const env: Vars = options.env ?? process.env;
  const dotenvPath = join(cwd, '.env');
  const dotenvLabel = `.env (${dotenvPath})`;

  if (typeof explicit !== 'object' || explicit === null || Array.isArray(explicit)) {
    throw configError('explicit settings must be an object of setting names to values', { source: 'explicit' });
  }
  rejectUnknownKeys(explicit, 'explicit', 'explicit settings');
  const dotenv = readDotenvFile(dotenvPath, dotenvLabel);

  const secrets = new Set<string>();
  const noteSecrets = (values: Readonly<Record<string, unknown>>, envStyle: boolean): void => {
    for (const name of settingNames) {
      if (settingDefinitions[name].secret !== true) continue;
      const value = envStyle ? values[envVarName(name)] : Object.hasOwn(values, name) ? values[name] : undefined;
      if (typeof value === 'string' && value !== '') secrets.add(value);
    }
  };
  noteSecrets(explicit, false);
  noteSecrets(env, true);
  noteSecrets(dotenv, true);

  const fileValues = loadConfigFile(cwd, env, dotenv, dotenvLabel, options.defaultPaths ?? defaultConfigPaths, secrets);
  if (fileValues !== undefined) {
    noteSecrets(fileValues.values, false);
    const pythonOnly = Object.keys(fileValues.values).filter((key) => PYTHON_WORKER_ONLY_KEYS.has(key));
    if (pythonOnly.length > 0) {
      options.onWarning?.(
        `config file ${fileValues.path}: ignoring settings only the Python worker uses: ${pythonOnly.join(', ')}`,
      );
    }
  }

  const resolved = new Map<keyof Settings, Resolved>();
  for (const name of settingNames) {
    const candidate = pickCandidate(name, explicit, fileValues, env, dotenv, dotenvLabel);
    if (candidate === undefined) {
      resolved.set(name, { value: defaultValue(name, cwd, env), source: 'default', rank: Rank.Default });
    } else {
      resolved.set(name, { value: convert(name, candidate, cwd, env, secrets), source: candidate.source, rank: candidate.rank });
    }
  }
  checkRelations(resolved, secrets);

  const result: Record<string, unknown> = {};
  for (const [name, entry] of resolved) result[name] = entry.value;
  const checked = SettingsSchema.safeParse(result);
  if (!checked.success) {
    // Every field passed its own rule above, so this means the table and the schema disagree.
    throw new AstraError(
      ErrorCode.INTERNAL,
      `settings failed the final schema check: ${checked.error.issues[0]?.message ?? 'unknown issue'}`,
    );
  }
  return deepFreeze(result) as unknown as Settings;
}

function loadConfigFile(
  cwd: string,
  env: Vars,
  dotenv: Vars,
  dotenvLabel: string,
  defaultPaths: readonly string[],
  secrets: ReadonlySet<string>,
): { path: string; values: Record<string, unknown> } | undefined {
  const fromEnv = readVar(env, CONFIG_FILE_ENV);
  const named = fromEnv ?? readVar(dotenv, CONFIG_FILE_ENV);
  let path: string | undefined;
  if (named !== undefined) {
    path = expandPath(named, cwd, env);
    if (!pathExists(path)) {
      const source = fromEnv !== undefined ? CONFIG_FILE_ENV : `${CONFIG_FILE_ENV} in ${dotenvLabel}`;
      throw configError(`config file ${path} (from ${source}) does not exist`, { source, path }, secrets);
    }
  } else {
    path = defaultPaths.map((p) => (isAbsolute(p) ? p : resolve(cwd, p))).find(pathExists);
  }
  if (path === undefined) return undefined;
  const values = readConfigFile(path);
  rejectUnknownKeys(values, path, `config file ${path}`, path, PYTHON_WORKER_ONLY_KEYS);
  return { path, values };
}

function pickCandidate(
  name: keyof Settings,
  explicit: Readonly<Record<string, unknown>>,
  file: { path: string; values: Record<string, unknown> } | undefined,
  env: Vars,
  dotenv: Vars,
  dotenvLabel: string,
): Candidate | undefined {
  if (Object.hasOwn(explicit, name) && explicit[name] !== undefined) {
    return { raw: explicit[name], source: 'explicit', rank: Rank.Explicit };
  }
  if (file !== undefined && Object.hasOwn(file.values, name)) {
    return { raw: file.values[name], source: file.path, rank: Rank.File };
  }
  return varCandidate(name, env, Rank.Env, (v) => v) ?? varCandidate(name, dotenv, Rank.Dotenv, () => dotenvLabel);
}

function defaultValue(name: keyof Settings, cwd: string, env: Vars): unknown {
  const value: unknown = defaultOf(name);
  if (settingDefinitions[name].rule.isPath === true && typeof value === 'string') return expandPath(value, cwd, env);
  // A fresh copy per load: the table's own arrays must stay unfrozen and unshared.
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

function convert(name: keyof Settings, candidate: Candidate, cwd: string, env: Vars, secrets: ReadonlySet<string>): unknown {
  const definition = settingDefinitions[name];
  const rule = definition.rule;
  const secret = definition.secret === true;
  const fail = (shown: unknown): AstraError =>
    configError(
      `invalid ${name} from ${candidate.source}: expected ${rule.expected}, got ${describeValue(shown, secret)}`,
      { field: name, source: candidate.source },
      secrets,
    );

  const raw = candidate.raw;
  if (raw === null) {
    if (isOptional(name)) return undefined;
    throw fail(raw);
  }
  const typed = typeof raw === 'string' ? rule.fromString(raw) : rule.fromValue !== undefined ? rule.fromValue(raw) : raw;
  if (typed === UNPARSABLE) throw fail(raw);
  const parsed = (rule.schema as { safeParse(v: unknown): { success: boolean; data?: unknown } }).safeParse(typed);
  if (!parsed.success) throw fail(raw);
  const value = parsed.data;
  if (rule.isPath === true && typeof value === 'string') return expandPath(value, cwd, env);
  // Copy structures so freezing the result never freezes the caller's objects.
  return typeof value === 'object' && value !== null ? structuredClone(value) : value;
}

function checkRelations(resolved: ReadonlyMap<keyof Settings, Resolved>, secrets: ReadonlySet<string>): void {
  const get = (name: keyof Settings): Resolved => {
    const entry = resolved.get(name);
    if (entry === undefined) throw new AstraError(ErrorCode.INTERNAL, `setting ${name} was not resolved`);
    return entry;
  };
  const blame = (a: keyof Settings, b: keyof Settings): keyof Settings => (get(a).rank > get(b).rank ? a : b);

  for (const [low, high] of [
    ['ack_retry_base_ms', 'ack_retry_max_ms'],
    ['reconnect_base_delay_seconds', 'reconnect_max_delay_seconds'],
    ['thread_pool_min_threads', 'thread_pool_max_threads'],
  ] as const) {
    const lowValue = get(low).value as number;
    const highValue = get(high).value as number;
    if (highValue >= lowValue) continue;
    const field = blame(low, high);
    const other = field === low ? high : low;
    const relation = field === low ? '≤' : '≥';
    throw configError(
      `invalid ${field} from ${get(field).source}: expected a value ${relation} ${other} (${get(other).value as number}), got ${get(field).value as number}`,
      { field, source: get(field).source },
      secrets,
    );
  }

  const cert = get('tls_cert_file');
  const key = get('tls_key_file');
  if ((cert.value === undefined) !== (key.value === undefined)) {
    const [field, missing] =
      cert.value === undefined ? (['tls_key_file', 'tls_cert_file'] as const) : (['tls_cert_file', 'tls_key_file'] as const);
    throw configError(
      `invalid ${field} from ${get(field).source}: expected ${missing} to be set as well (mTLS needs both)`,
      { field, source: get(field).source },
      secrets,
    );
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}
