import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DASHBOARD_CSP } from '../../src/server/dashboard.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A raw request: the path goes out exactly as written (fetch would resolve `..` first). */
function get(gw: TestGateway, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the dashboard is served by the gateway', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway('embedded');
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('answers /dashboard/ with the page: HTML, revalidated, a strict CSP, no framing', async () => {
    const page = await get(gw, '/dashboard/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['content-security-policy']).toBe(DASHBOARD_CSP);
    expect(DASHBOARD_CSP).toContain("script-src 'self'");
    expect(DASHBOARD_CSP).toContain("frame-ancestors 'none'");
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.body).toContain('<title>Gateway dashboard</title>');
    expect(page.body).not.toContain('{{');
    const again = await get(gw, '/dashboard/', { 'if-none-match': String(page.headers.etag) });
    expect(again.status).toBe(304);
    const redirect = await get(gw, '/dashboard');
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe('/dashboard/');
  });

  it('serves every file the page names from its own origin, immutably cached, gzipped when asked', async () => {
    const page = await get(gw, '/dashboard/');
    const urls = [...page.body.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!).filter((url) => !url.startsWith('data:') && !url.startsWith('#'));
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) {
      expect(url).toMatch(/^\/dashboard\/v\/[0-9a-f]{12}\//);
      const asset = await get(gw, url, { 'accept-encoding': 'gzip' });
      expect(asset.status, url).toBe(200);
      expect(asset.headers['cache-control']).toBe('public, max-age=31536000, immutable');
      expect(asset.headers['content-encoding']).toBe('gzip');
      expect(asset.headers['content-type']).toMatch(url.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    }
    // The modules import uPlot and the graphql-ws client from the gateway, not from a CDN.
    expect(urls.some((url) => url.endsWith('/vendor/uplot.esm.js'))).toBe(true);
    expect(urls.some((url) => url.endsWith('/vendor/graphql-ws/client.js'))).toBe(true);
  });

  it('serves nothing else: no directory traversal, no other methods', async () => {
    const page = await get(gw, '/dashboard/');
    const prefix = /\/dashboard\/v\/[0-9a-f]{12}\//.exec(page.body)![0];
    for (const path of [
      `${prefix}../../../package.json`,
      `${prefix}%2e%2e/%2e%2e/package.json`,
      `${prefix}js/../../../../src/config.ts`,
      `${prefix}..%2F..%2Fpackage.json`,
      '/dashboard/../package.json',
      '/dashboard/js/app.js',
      '/dashboard/v/000000000000/js/app.js',
      `${prefix}index.html`,
      `${prefix}vendor/graphql-ws/server.js`,
    ]) {
      const answer = await get(gw, path);
      expect(answer.status, path).toBe(404);
      expect(answer.body).not.toContain('identity-gateway');
    }
    expect((await get(gw, '/dashboard/', {}, 'POST')).status).toBe(405);
    expect((await get(gw, '/dashboard/', {}, 'HEAD')).status).toBe(200);
  });
});
