import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpError } from '../http/http-error.ts';
import { pathOf } from '../http/url-path.ts';
import type { Route } from './http-server.ts';
import { sendAsset, staticAsset, type StaticAsset } from './static-asset.ts';

/** Where the dashboard lives; `/dashboard` redirects here. */
export const DASHBOARD_PATH = '/dashboard/';

/**
 * The dashboard's own files (plain ES modules and CSS, served as they are: no build step) in the
 * nearest ancestor holding `package.json` and `web/dashboard/`, like the migrations folder: found
 * whatever the working directory, and wherever the sources are run or built from.
 */
function sourceDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, 'web', 'dashboard');
    if (existsSync(path.join(dir, 'package.json')) && existsSync(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find web/dashboard/ above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/**
 * The page runs only the gateway's own scripts and styles and talks only to its own origin
 * (`connect-src 'self'` covers the same-origin WebSocket); it cannot be framed.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': DASHBOARD_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
} as const;

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

interface Bundle {
  /** The page, with the versioned asset URLs filled in. */
  readonly page: StaticAsset;
  /** Path below the versioned prefix → asset. Only these names are served: no path reaches the disk. */
  readonly assets: ReadonlyMap<string, StaticAsset>;
  /** `/dashboard/v/<hash>/`: changes whenever any file changes, so assets are cached for good. */
  readonly prefix: string;
}

/**
 * Serves the dashboard (`/dashboard/`): the page, its modules and styles, and the browser builds of
 * uPlot and the graphql-ws client taken from node_modules. Files are read once, on the first
 * request; all but the page sit under a content-hashed prefix and are cached immutably, the page is
 * revalidated (ETag) on every load.
 */
export class Dashboard {
  #bundle: Promise<Bundle> | undefined;
  readonly #sourceDir: string;

  constructor(dir = sourceDir()) {
    this.#sourceDir = dir;
  }

  /** Whether a request path belongs to the dashboard. */
  static owns(pathname: string): boolean {
    return pathname === '/dashboard' || pathname.startsWith(DASHBOARD_PATH);
  }

  readonly route: Route = {
    name: 'dashboard',
    handle: (req, res) => this.#serve(req, res),
  };

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'Method not allowed', { allow: 'GET, HEAD' });
    const pathname = pathOf(req.url);
    if (pathname === '/dashboard') {
      res.writeHead(308, { location: DASHBOARD_PATH, 'content-length': 0 }).end();
      return;
    }
    const bundle = await this.#load();
    if (pathname === DASHBOARD_PATH || pathname === `${DASHBOARD_PATH}index.html`) {
      await send(req, res, bundle.page, 'no-cache');
      return;
    }
    const found = pathname.startsWith(bundle.prefix) ? bundle.assets.get(pathname.slice(bundle.prefix.length)) : undefined;
    if (!found) throw new HttpError(404, 'Not found');
    await send(req, res, found, 'public, max-age=31536000, immutable');
  }

  #load(): Promise<Bundle> {
    this.#bundle ??= loadBundle(this.#sourceDir);
    // A failed read is tried again on the next request rather than remembered.
    this.#bundle.catch(() => (this.#bundle = undefined));
    return this.#bundle;
  }
}

function send(req: IncomingMessage, res: ServerResponse, file: StaticAsset, cacheControl: string): Promise<void> {
  return sendAsset(req, res, file, { ...SECURITY_HEADERS, 'cache-control': cacheControl });
}

async function filesUnder(dir: string, base = ''): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(path.join(dir, base), { withFileTypes: true })) {
    const name = base ? `${base}/${entry.name}` : entry.name;
    if (entry.isDirectory()) names.push(...(await filesUnder(dir, name)));
    else if (entry.isFile() && path.extname(name) in TYPES) names.push(name);
  }
  return names.sort();
}

/** The browser files of the dependencies, by the name the dashboard's modules import them under. */
async function vendorFiles(): Promise<Map<string, string>> {
  const require = createRequire(import.meta.url);
  const uplotDir = path.dirname(require.resolve('uplot/package.json'));
  // `require` resolves graphql-ws' client to its CommonJS build; the ES module sits beside it.
  const wsClient = require.resolve('graphql-ws/client').replace(/\.cjs$/, '.js');
  const files = new Map<string, string>([
    ['vendor/uplot.esm.js', path.join(uplotDir, 'dist/uPlot.esm.js')],
    ['vendor/uplot.min.css', path.join(uplotDir, 'dist/uPlot.min.css')],
    ['vendor/graphql-ws/client.js', wsClient],
  ]);
  // The client imports shared code from a chunk whose name carries a hash: serve what it names.
  const source = await readFile(wsClient, 'utf8');
  for (const [, chunk] of source.matchAll(/from\s*['"]\.\/([\w.-]+\.js)['"]/g)) {
    files.set(`vendor/graphql-ws/${chunk}`, path.join(path.dirname(wsClient), chunk!));
  }
  return files;
}

async function loadBundle(sourceDir: string): Promise<Bundle> {
  const files = new Map<string, string>();
  for (const name of await filesUnder(sourceDir)) if (name !== 'index.html') files.set(name, path.join(sourceDir, name));
  for (const [name, file] of await vendorFiles()) files.set(name, file);

  const assets = new Map<string, StaticAsset>();
  const version = createHash('sha256');
  for (const [name, file] of [...files].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const body = await readFile(file);
    version.update(name).update('\0').update(body);
    assets.set(name, staticAsset(TYPES[path.extname(name)]!, body));
  }
  const prefix = `${DASHBOARD_PATH}v/${version.digest('hex').slice(0, 12)}/`;
  // Every module is announced up front, so the browser fetches them in parallel, not import by import.
  const preload = [...assets.keys()]
    .filter((name) => name.endsWith('.js'))
    .map((name) => `<link rel="modulepreload" href="${prefix}${name}">`)
    .join('\n');
  const template = await readFile(path.join(sourceDir, 'index.html'), 'utf8');
  const page = template.replaceAll('{{ASSETS}}/', prefix).replace('{{MODULEPRELOAD}}', preload);
  return { page: staticAsset(TYPES['.html']!, Buffer.from(page)), assets, prefix };
}
