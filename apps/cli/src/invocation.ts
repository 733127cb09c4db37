import { realpathSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';

/**
 * How the operator can run this CLI again from where they are: `imgcache` when that name
 * on PATH leads to this very script (a global or linked install), else `node <script>`
 * with the script's path relative to the working directory (a checkout after
 * `pnpm start`, where nothing is on PATH).
 */
export function invocation(
  script = process.argv[1] ?? '',
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): string {
  const self = realPath(script);
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && self !== null && realPath(join(dir, 'imgcache')) === self) return 'imgcache';
  }
  return `node ${shellWord(relative(cwd, script) || script)}`;
}

/** A word as a POSIX shell reads it back: as it is when plain, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w./@+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

function realPath(path: string): string | null {
  try {
    return realpathSync(path);
  } catch {
    return null;
  }
}
