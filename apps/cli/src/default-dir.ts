import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The user's cache home: $XDG_CACHE_HOME/imgcache, else ~/.cache/imgcache (Linux),
 * ~/Library/Caches/imgcache (macOS), %LOCALAPPDATA%\imgcache\Cache (Windows).
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.XDG_CACHE_HOME) return join(env.XDG_CACHE_HOME, 'imgcache');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'imgcache');
  if (process.platform === 'win32' && env.LOCALAPPDATA) return join(env.LOCALAPPDATA, 'imgcache', 'Cache');
  return join(homedir(), '.cache', 'imgcache');
}
