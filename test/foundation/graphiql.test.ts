import * as bundle from '@graphql-yoga/render-graphiql/graphiql';
import { renderGraphiQL as renderCdnGraphiQL } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

/**
 * What a browser fetches when it opens a page, found by reading the page and what it loads:
 *
 * - HTML: the attributes that make a browser load something (`src`, `srcset`, `poster` and `data` on
 *   any element, `href` on `<link>` and `<base>`, `content` of a refresh `<meta>`), not `<a href>`,
 *   which is only followed on a click. Inline `<style>` and `style` attributes are read as CSS,
 *   inline `<script>` as JavaScript.
 * - CSS: `url(...)` and `@import`.
 * - JavaScript: a script loads a URL through a call (`fetch`, `import()`, `importScripts`, `new
 *   Worker`, ...) or an element it creates, usually after passing the URL around in variables, so
 *   reading call sites is not enough. Every string literal that is an absolute http(s) URL and
 *   nothing else (the only kind of string a script can hand to `fetch` as it is) counts as loaded,
 *   unless it is an XML namespace, the `href` of an `<a>` element, or one of {@link INERT_URLS},
 *   read and found not to be loaded. URLs inside longer text (comments, messages) count only where
 *   that text is markup or CSS that would load them (`src=`, `href=` of a link, `url(`, `@import`).
 *   Root-relative literals under /graphql/assets/ are the gateway's own files (Monaco's workers):
 *   they are fetched and read as well.
 */
const INERT_URLS: Readonly<Record<string, string>> = {
  'https://react.dev/errors/': 'React builds the text of its error messages on it',
  'https://dummyhostname.com': 'a base for parsing relative URLs with `new URL`',
  'http://www.example.com/some/path': 'an example in a comment of the Monaco sources',
  'http://json-schema.org/draft-03/schema#': 'a JSON Schema dialect identifier (compared, never fetched)',
  'http://json-schema.org/draft-04/schema#': 'a JSON Schema dialect identifier, its schema bundled',
  'http://json-schema.org/draft-06/schema#': 'a JSON Schema dialect identifier (compared, never fetched)',
  'http://json-schema.org/draft-07/schema#': 'a JSON Schema dialect identifier, its schema bundled',
  'https://json-schema.org/draft/2019-09/schema': 'a JSON Schema dialect identifier (compared, never fetched)',
  'https://json-schema.org/draft/2020-12/schema': 'a JSON Schema dialect identifier (compared, never fetched)',
  'http://json-schema.org/draft-': 'a prefix that schema identifiers are compared with',
  'http://json-schema.org/': 'a prefix that schema identifiers are compared with',
  'http://json-schema.org/draft-03/schema': 'a JSON Schema dialect identifier (compared, never fetched)',
  'http://json-schema.org/draft-04/schema': 'the dialect the variables schema declares; its schema is bundled',
};
const XML_NAMESPACE = /^http:\/\/www\.w3\.org\/(2000\/svg|1999\/xhtml|1998\/Math\/MathML|1999\/xlink|XML\/1998\/namespace|2000\/xmlns\/)$/;
const ABSOLUTE = /^https?:\/\//i;
const ASSETS = '/graphql/assets/';

interface Found {
  readonly url: string;
  readonly where: string;
}

function attributesOf(tag: string): Map<string, string> {
  const attributes = new Map<string, string>();
  for (const [, name, value] of tag.matchAll(/([\w:-]+)\s*=\s*("[^"]*"|'[^']*'|[^\s"'>]+)/g)) {
    attributes.set(name!.toLowerCase(), value!.replace(/^["']|["']$/g, '').replace(/&amp;/g, '&'));
  }
  return attributes;
}

function cssReferences(css: string, where: string): Found[] {
  const found: Found[] = [];
  for (const [, url] of css.matchAll(/url\(\s*['"]?([^'")\s]+)/gi)) found.push({ url: url!, where: `${where} url()` });
  for (const [, url] of css.matchAll(/@import\s+(?:url\()?\s*['"]?([^'")\s;]+)/gi)) found.push({ url: url!, where: `${where} @import` });
  return found;
}

/** `href` of an `<a>` element built by React (`jsx("a", {..., href: "…"`) or `createElement("a", {…`. */
function isAnchorHref(script: string, index: number): boolean {
  const before = script.slice(Math.max(0, index - 200), index);
  return /href:$/.test(before) && /\(\s*"a"\s*,\s*\{[^{}]*$/.test(before);
}

function scriptReferences(script: string, where: string): Found[] {
  const found: Found[] = [];
  for (const match of script.matchAll(/(["'`])(https?:\/\/[^"'`\s]*)\1/g)) {
    const url = match[2]!;
    if (url.length <= 'https://'.length || XML_NAMESPACE.test(url) || url in INERT_URLS) continue;
    if (isAnchorHref(script, match.index)) continue;
    found.push({ url, where: `${where} string literal` });
  }
  // Markup and CSS inside strings or comments: `<script src=…>`, `<link href=…>`, `url(…)`, `@import`.
  for (const [, url] of script.matchAll(/\b(?:src|srcset|poster)\s*=\s*\\?["']?(https?:\/\/[^"'\s\\>)]+)/gi)) found.push({ url: url!, where: `${where} markup` });
  for (const [, url] of script.matchAll(/<link\b[^>]*?href\s*=\s*\\?["']?(https?:\/\/[^"'\s\\>]+)/gi)) found.push({ url: url!, where: `${where} markup` });
  for (const ref of cssReferences(script, `${where} CSS text`)) if (ABSOLUTE.test(ref.url)) found.push(ref);
  for (const [, path] of script.matchAll(/["'`](\/graphql\/assets\/[^"'`\s]+)["'`]/g)) found.push({ url: path!, where: `${where} worker or asset path` });
  return found;
}

function pageReferences(html: string): { references: Found[]; scripts: string[]; styles: string[] } {
  const references: Found[] = [];
  const scripts: string[] = [];
  const styles: string[] = [];
  for (const [, body] of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)) scripts.push(body!);
  for (const [, body] of html.matchAll(/<style\b[^>]*>([\s\S]*?)<\/style>/gi)) styles.push(body!);
  for (const [tag, name] of html.matchAll(/<([a-z][\w-]*)\b[^>]*>/gi)) {
    const element = name!.toLowerCase();
    const attributes = attributesOf(tag);
    for (const attribute of ['src', 'poster', 'data']) {
      const value = attributes.get(attribute);
      if (value !== undefined) references.push({ url: value, where: `<${element} ${attribute}>` });
    }
    for (const candidate of (attributes.get('srcset') ?? '').split(',')) {
      const url = candidate.trim().split(/\s+/)[0];
      if (url) references.push({ url, where: `<${element} srcset>` });
    }
    if ((element === 'link' || element === 'base') && attributes.has('href')) references.push({ url: attributes.get('href')!, where: `<${element} href>` });
    if (element === 'meta' && /refresh/i.test(attributes.get('http-equiv') ?? '')) {
      const url = /url\s*=\s*(\S+)/i.exec(attributes.get('content') ?? '')?.[1];
      if (url) references.push({ url, where: '<meta refresh>' });
    }
    const style = attributes.get('style');
    if (style) references.push(...cssReferences(style, `<${element} style>`));
  }
  for (const style of styles) references.push(...cssReferences(style, '<style>'));
  for (const script of scripts) references.push(...scriptReferences(script, 'inline <script>'));
  return { references, scripts, styles };
}

/**
 * Everything `pageUrl` loads that is not on the page's own origin: the page is read, then every
 * same-origin file it loads (and those files' own references), recursively.
 */
async function externalLoads(pageUrl: string, html: string, fetchText: (url: string) => Promise<{ type: string; text: string }>) {
  const origin = new URL(pageUrl).origin;
  const external: Found[] = [];
  const seen = new Set<string>();
  const queue: { base: string; found: Found }[] = pageReferences(html).references.map((found) => ({ base: pageUrl, found }));
  while (queue.length > 0) {
    const { base, found } = queue.shift()!;
    if (/^(data|blob):/i.test(found.url)) continue;
    const url = new URL(found.url, base);
    if (url.origin !== origin) {
      external.push({ url: url.href, where: found.where });
      continue;
    }
    if (seen.has(url.href)) continue;
    seen.add(url.href);
    const { type, text } = await fetchText(url.href);
    const name = url.pathname;
    const more = /css/.test(type) ? cssReferences(text, name) : /javascript/.test(type) ? scriptReferences(text, name) : [];
    queue.push(...more.map((next) => ({ base: url.href, found: next })));
  }
  return { external, loaded: [...seen] };
}

describe('GraphiQL (outside production)', () => {
  let gw: TestGateway;
  let page: Response;
  let html: string;
  beforeAll(async () => {
    gw = await startTestGateway('embedded');
    page = await fetch(gw.graphqlUrl, { headers: { accept: 'text/html' } });
    html = await page.text();
  });
  afterAll(() => gw?.close());

  const fetchOwn = async (url: string) => {
    const res = await fetch(url);
    expect(res.status, url).toBe(200);
    return { type: res.headers.get('content-type') ?? '', text: await res.text() };
  };

  it('is a small page that loads the bundled GraphiQL from the gateway', async () => {
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(html).toContain('<title>Identity gateway</title>');
    // The ~9 MB bundle is not inlined in every page: the page refers to it.
    expect(Buffer.byteLength(html)).toBeLessThan(4096);
    const { loaded } = await externalLoads(page.url, html, fetchOwn);
    const served = await Promise.all(loaded.map(async (url) => (await fetch(url)).text()));
    // The script, the styles (fonts inlined) and the three Monaco workers, byte for byte the package's.
    for (const part of [bundle.js, bundle.css, bundle.editorWorkerService, bundle.jsonWorker, bundle.graphqlWorker]) {
      expect(served.includes(part)).toBe(true);
    }
  });

  it('references no other host: nothing the page, its styles, scripts or workers load leaves the gateway', async () => {
    const { external, loaded } = await externalLoads(page.url, html, fetchOwn);
    expect(external).toEqual([]);
    expect(loaded.filter((url) => url.includes(ASSETS))).toHaveLength(6);
  });

  it('finds what the page of the CDN build loads from other hosts (the check can fail)', async () => {
    const cdnPage = renderCdnGraphiQL({ title: 'cdn' });
    const { external } = await externalLoads('http://127.0.0.1/graphql', cdnPage, fetchOwn);
    const hosts = new Set(external.map((found) => new URL(found.url).host));
    expect([...hosts].sort()).toEqual(['raw.githubusercontent.com', 'unpkg.com']);
    // The stylesheet and the script by attribute, the workers through the literals fetch() gets.
    expect(new Set(external.map((found) => found.where))).toEqual(new Set(['<link href>', '<script src>', 'inline <script> string literal']));
  });

  it('serves each file once for good: immutable cache, ETag revalidation, gzip', async () => {
    const script = /<script src="([^"]+)"/.exec(html)![1]!;
    const first = await fetch(new URL(script, gw.url), { headers: { 'accept-encoding': 'identity' } });
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(first.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[0-9a-f]{64}"$/);
    expect(Number(first.headers.get('content-length'))).toBe(Buffer.byteLength(bundle.js));
    expect(await first.text()).toBe(bundle.js);

    const again = await fetch(new URL(script, gw.url), { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe('');

    const zipped = await fetch(new URL(script, gw.url), { headers: { 'accept-encoding': 'gzip, br' } });
    expect(zipped.headers.get('content-encoding')).toBe('gzip');
    expect(Number(zipped.headers.get('content-length'))).toBeLessThan(Buffer.byteLength(bundle.js) / 2);
    expect(await zipped.text()).toBe(bundle.js); // fetch decompresses

    const favicon = await fetch(new URL(/<link rel="icon" href="([^"]+)"/.exec(html)![1]!, gw.url));
    expect(favicon.headers.get('content-type')).toBe('image/x-icon');
    expect(Buffer.from(await favicon.arrayBuffer()).toString('base64')).toBe(bundle.favicon.split(',')[1]);
  });

  it('answers unknown asset names with 404 and other methods with 405', async () => {
    const missing = await fetch(`${gw.url}${ASSETS}graphiql.0000000000000000.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: string }).error).toBe('Not found');
    const script = /<script src="([^"]+)"/.exec(html)![1]!;
    const post = await fetch(new URL(script, gw.url), { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('GraphiQL in production', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway('production', { env: { NODE_ENV: 'production' } });
  });
  afterAll(() => gw?.close());

  it('is not served: no page, no assets', async () => {
    const page = await fetch(gw.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(page.headers.get('content-type') ?? '').not.toMatch(/html/);
    expect(await page.text()).not.toContain('<html');
    const asset = await fetch(`${gw.url}${ASSETS}graphiql.0000000000000000.js`);
    expect(asset.status).toBe(404);
  });
});
