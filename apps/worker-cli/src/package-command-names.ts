/**
 * The package subcommands of `astraflow-worker`. Kept apart from their
 * implementation so the worker's start-up can recognise them without loading
 * what only they need (ajv, tar).
 */
export const PACKAGE_COMMANDS = ['pack', 'validate'] as const;
