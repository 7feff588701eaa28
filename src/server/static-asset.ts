import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/** A file the gateway serves from memory (GraphiQL's bundle, the dashboard). */
export interface StaticAsset {
  readonly type: string;
  readonly body: Buffer;
  readonly etag: string;
  /** 16 hex digits of the content's hash, for names that change with the content. */
  readonly version: string;
  /** Compressed on the first request that accepts gzip, then kept. */
  gzipped?: Promise<Buffer>;
}

export function staticAsset(type: string, body: Buffer): StaticAsset {
  const digest = createHash('sha256').update(body).digest('hex');
  return { type, body, etag: `"${digest}"`, version: digest.slice(0, 16) };
}

/**
 * Answers a GET or HEAD with `asset` and `headers` (caching, security): 304 when the client's
 * `If-None-Match` holds its ETag, gzip when the client takes it.
 */
export async function sendAsset(req: IncomingMessage, res: ServerResponse, asset: StaticAsset, headers: Readonly<Record<string, string>>): Promise<void> {
  const head: Record<string, string | number> = { ...headers, 'content-type': asset.type, etag: asset.etag, vary: 'accept-encoding' };
  const given = req.headers['if-none-match'];
  if (given !== undefined && given.split(',').some((tag) => tag.trim() === asset.etag || tag.trim() === '*')) {
    res.writeHead(304, head).end();
    return;
  }
  let body = asset.body;
  if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
    asset.gzipped ??= gzipAsync(asset.body, { level: 9 });
    body = await asset.gzipped;
    head['content-encoding'] = 'gzip';
  }
  head['content-length'] = body.length;
  res.writeHead(200, head);
  res.end(req.method === 'HEAD' ? undefined : body);
}
