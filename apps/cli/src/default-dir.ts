import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The user's cache home: $XDG_CACHE_HOME/imgcache, else ~/.cache/imgcache (Linux),
 * ~/Library/Caches/imgcache (macOS), %LOCALAPPDATA%\imgcache\Cache (Windows). The home
 * directory is `env`'s `HOME` where set, as `os.homedir()` reads it from the process's own.
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'imgcache');
  if (process.platform === 'darwin') return join(home(env), 'Library', 'Caches', 'imgcache');
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'imgcache', 'Cache');
  return join(home(env), '.cache', 'imgcache');
}

function home(env: NodeJS.ProcessEnv): string {
  return (process.platform !== 'win32' && env.HOME) || homedir();
}
