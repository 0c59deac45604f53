import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { AstraError } from '@astraflow/protocol';
import { loadSettings, type LoadSettingsOptions } from './load-settings.js';
import type { Settings } from './settings.js';

/** A temp folder used as the cwd of `loadSettings`, with no /etc lookups and an empty env by default. */
export interface Sandbox {
  readonly dir: string;
  /** Writes `content` at `relative` (folders created) and returns the absolute path. */
  write(relative: string, content: string): string;
  load(explicit?: Partial<Record<keyof Settings, unknown>>, options?: LoadSettingsOptions): Settings;
  /** Runs `load` expecting an `E.CONFIG.INVALID` error, and returns it. */
  loadError(explicit?: Partial<Record<keyof Settings, unknown>>, options?: LoadSettingsOptions): AstraError;
}

const created: string[] = [];

export function createSandbox(): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'astra-config-'));
  created.push(dir);
  const load = (explicit: Partial<Record<keyof Settings, unknown>> = {}, options: LoadSettingsOptions = {}): Settings =>
    loadSettings(explicit, { cwd: dir, env: {}, defaultPaths: [], ...options });
  return {
    dir,
    write(relative, content) {
      const path = join(dir, relative);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, content);
      return path;
    },
    load,
    loadError(explicit, options) {
      try {
        load(explicit, options);
      } catch (error) {
        if (AstraError.isInstance(error) && error.code === 'E.CONFIG.INVALID') {
          if (error.message.includes('\n')) throw new Error(`config error message is not one line: ${error.message}`);
          return error;
        }
        throw error;
      }
      throw new Error('expected loadSettings to throw E.CONFIG.INVALID, but it returned settings');
    },
  };
}

export function removeSandboxes(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}
