import { parseArgs } from 'node:util';
import { AstraError, ErrorCode, errorMessage } from '@astraflow/protocol';

/** What the command line asked for. */
export interface CliArgs {
  /** `-h` / `--help` was given. */
  help: boolean;
  /** `-v` / `--version` was given. */
  version: boolean;
  /** Path for `ASTRA_WORKER_CONFIG_FILE`. */
  configFile?: string;
  /** Explicit settings: the highest-priority source. */
  overrides: Record<string, string>;
}

/** Flag → setting it overrides. Exported for the docs and tests. */
export const SETTING_FLAGS = {
  'scheduler-url': 'scheduler_ws_url',
  'log-level': 'log_level',
  transport: 'transport',
  tenant: 'tenant',
  'worker-name': 'worker_name',
  'http-port': 'http_port',
} as const;

/** The `--help` text. */
export const USAGE = `Usage: astraflow-worker [options]
       astraflow-worker validate <dir>
       astraflow-worker pack <dir> [--out <file>] [--url <url>]

Runs an AstraFlow worker: connects to the scheduler, installs node packages
on command, runs their tasks and reports results.

Options:
  -c, --config <file>        settings file (sets ASTRA_WORKER_CONFIG_FILE)
      --scheduler-url <url>  scheduler WebSocket URL (ws:// or wss://)
      --log-level <level>    trace | debug | info | warn | error | fatal
      --transport <name>     websocket | dummy
      --tenant <tenant>      tenant to serve
      --worker-name <name>   display name
      --http-port <port>     port of the health/metrics endpoint (with http_enabled)
  -h, --help                 show this help
  -v, --version              print the version

validate checks a package folder as the worker will at install (manifest,
entrypoints import, handlers exist) and says whether the scheduler's catalog
would accept the manifest; pack also writes <name>-<version>.tgz
(deterministic) and prints its sha256 and the biz.pkg.install payload.

Flags beat every other settings source; then the settings file, then
ASTRA_WORKER_* environment variables, then ./.env, then defaults.
SIGTERM / SIGINT drain and stop gracefully; a second signal stops at once.`;

/**
 * Parses argv (without node and script). Throws `E.CONFIG.INVALID` on
 * unknown flags, missing flag values and positional arguments.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  // `pnpm start -- --help` hands the `--` separator through; it carries no meaning here.
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  let parsed: { values: Record<string, unknown> };
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        config: { type: 'string', short: 'c' },
        ...Object.fromEntries(Object.keys(SETTING_FLAGS).map((flag) => [flag, { type: 'string' as const }])),
      },
    });
  } catch (err) {
    throw new AstraError(ErrorCode.CONFIG_INVALID, `${errorMessage(err)} (see --help)`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const overrides: Record<string, string> = {};
  for (const [flag, setting] of Object.entries(SETTING_FLAGS)) {
    const value = values[flag];
    if (typeof value === 'string') overrides[setting] = value;
  }
  return {
    help: values.help === true,
    version: values.version === true,
    ...(typeof values.config === 'string' ? { configFile: values.config } : {}),
    overrides,
  };
}
