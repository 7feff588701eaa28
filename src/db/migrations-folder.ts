import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The `drizzle/` folder of the project this module belongs to: the nearest ancestor holding both
 * `package.json` and `drizzle/`, so it is found wherever the sources are run or built from.
 */
export function migrationsFolder(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'drizzle');
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('cannot find the drizzle/ migrations folder above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}
