import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphiQLOptions } from 'graphql-yoga';
import { HttpError } from '../http/http-error.ts';
import { pathOf } from '../http/url-path.ts';
import type { Route } from './http-server.ts';
import { sendAsset, staticAsset, type StaticAsset } from './static-asset.ts';

/** Where the gateway serves GraphiQL's files; every name carries a hash of its content. */
export const GRAPHIQL_ASSET_PREFIX = '/graphql/assets/';

interface Bundle {
  /** Asset file name → asset. */
  readonly assets: ReadonlyMap<string, StaticAsset>;
  readonly urls: { readonly js: string; readonly css: string; readonly favicon: string; readonly workers: Readonly<Record<string, string>> };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** JSON that is safe inside an inline `<script>`. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/**
 * GraphiQL from the bundle that `@graphql-yoga/render-graphiql` ships (script, styles, fonts, Monaco
 * workers, favicon), so the page needs no internet access. Instead of inlining the ~9 MB bundle in
 * every page as that package's `renderGraphiQL` does, the page is a few hundred bytes that load the
 * bundle's parts from {@link GRAPHIQL_ASSET_PREFIX} once; browsers then keep them (immutable names,
 * ETags). The bundle is loaded on the first GraphiQL request, so a gateway nobody browses never pays
 * for parsing it.
 */
export class Graphiql {
  #bundle: Promise<Bundle> | undefined;

  /** The page Yoga answers `GET /graphql` with when a browser asks for HTML. */
  async renderPage(options: GraphiQLOptions): Promise<string> {
    const { urls } = await this.#load();
    const title = options.title ?? 'GraphiQL';
    return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="${urls.favicon}">
<link rel="stylesheet" href="${urls.css}">
</head>
<body id="body" class="no-focus-outline">
<noscript>GraphiQL needs JavaScript.</noscript>
<div id="root"></div>
<script>
const workers = ${scriptJson(urls.workers)};
self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (moduleId, label) => workers[label] };
</script>
<script src="${urls.js}"></script>
<script>YogaGraphiQL.renderYogaGraphiQL(document.querySelector('#root'), ${scriptJson(options)});</script>
</body>
</html>
`;
  }

  /** Serves the bundle's files under {@link GRAPHIQL_ASSET_PREFIX}. */
  readonly route: Route = {
    name: 'graphiql',
    handle: (req, res) => this.#serve(req, res),
  };

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError(405, 'Method not allowed', { allow: 'GET, HEAD' });
    const { assets } = await this.#load();
    const asset = assets.get(pathOf(req.url).slice(GRAPHIQL_ASSET_PREFIX.length));
    if (!asset) throw new HttpError(404, 'Not found');
    // The name changes with the content, so a browser never needs to ask again.
    await sendAsset(req, res, asset, { 'cache-control': 'public, max-age=31536000, immutable' });
  }

  #load(): Promise<Bundle> {
    this.#bundle ??= loadBundle();
    return this.#bundle;
  }
}

async function loadBundle(): Promise<Bundle> {
  const parts = await import('@graphql-yoga/render-graphiql/graphiql');
  const assets = new Map<string, StaticAsset>();
  const add = (name: string, extension: string, type: string, body: Buffer): string => {
    const asset = staticAsset(type, body);
    const fileName = `${name}.${asset.version}.${extension}`;
    assets.set(fileName, asset);
    return `${GRAPHIQL_ASSET_PREFIX}${fileName}`;
  };
  const favicon = /^data:([^;,]+);base64,(.*)$/s.exec(parts.favicon);
  if (!favicon) throw new Error('@graphql-yoga/render-graphiql: the favicon is not a base64 data URL');
  const script = 'text/javascript; charset=utf-8';
  return {
    assets,
    urls: {
      js: add('graphiql', 'js', script, Buffer.from(parts.js)),
      css: add('graphiql', 'css', 'text/css; charset=utf-8', Buffer.from(parts.css)),
      favicon: add('favicon', 'ico', favicon[1]!, Buffer.from(favicon[2]!, 'base64')),
      // Monaco asks for its workers by these labels.
      workers: {
        editorWorkerService: add('editor.worker', 'js', script, Buffer.from(parts.editorWorkerService)),
        json: add('json.worker', 'js', script, Buffer.from(parts.jsonWorker)),
        graphql: add('graphql.worker', 'js', script, Buffer.from(parts.graphqlWorker)),
      },
    },
  };
}
