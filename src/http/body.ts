import type { IncomingMessage } from 'node:http';
import { HttpError } from './http-error.ts';

export const DEFAULT_BODY_LIMIT = 2 * 1024 * 1024;

/**
 * Reads a request body into memory, refusing it (413) as soon as it grows past `limit`, whether or
 * not a Content-Length announced it.
 */
export function readBody(req: IncomingMessage, limit = DEFAULT_BODY_LIMIT): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limit) {
    req.resume();
    return Promise.reject(tooLarge(limit));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) {
        settled = true;
        req.resume();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (settled) return;
      settled = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.once('error', (error: Error) => {
      if (settled) return;
      settled = true;
      reject(new HttpError(400, `Request body could not be read: ${error.message}`));
    });
    // 'close' before 'end': the client went away mid-body.
    req.once('close', () => {
      if (settled) return;
      settled = true;
      reject(new HttpError(400, 'Request was aborted by the client'));
    });
  });
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `Request body is larger than ${limit} bytes`);
}
