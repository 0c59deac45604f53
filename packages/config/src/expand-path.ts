import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

/**
 * Makes a path absolute: a leading `~` or `~/` is the home folder (from the
 * given env's HOME/USERPROFILE, else the OS), anything else relative is
 * resolved against `cwd`. `~user` forms are left to `cwd`, as a shell would
 * not expand them inside quotes either.
 */
export function expandPath(value: string, cwd: string, env: NodeJS.ProcessEnv): string {
  if (value === '~' || value.startsWith('~/') || value.startsWith('~\\')) {
    const home = env.HOME || env.USERPROFILE || homedir();
    return resolve(join(home, value.slice(1)));
  }
  return isAbsolute(value) ? resolve(value) : resolve(cwd, value);
}
