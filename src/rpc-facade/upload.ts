import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import type { UploadedFile } from '../graph/schema.ts';
import type { ParamSpec } from './method.ts';
import { RpcCode } from './result.ts';

/** A file received to a temporary file; readable until the upload is cleaned up. */
export interface StoredFile extends UploadedFile {
  readonly path: string;
}

/** Whether an argument is a file this module received (JSON arguments never are). */
export function isStoredFile(value: unknown): value is StoredFile {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as StoredFile).path === 'string' &&
    typeof (value as StoredFile).arrayBuffer === 'function'
  );
}

export type UploadPart = { readonly kind: 'file'; readonly file: StoredFile } | { readonly kind: 'field'; readonly value: unknown };

export interface ReceivedUpload {
  readonly parts: ReadonlyMap<string, UploadPart>;
  /** Removes the temporary files. */
  cleanup(): Promise<void>;
}

export class UploadError extends Error {
  readonly code: number;

  constructor(code: number, message?: string) {
    super(message ?? `upload failed with ${code}`);
    this.code = code;
  }
}

const MAX_PARTS = 32;
const MAX_FIELD_BYTES = 1024 * 1024;

/**
 * Streams a `multipart/form-data` body: files to temporary files (refused beyond `maxBytes` with
 * -32902), other parts kept in memory (parsed as JSON when their content type says so).
 */
export async function receiveUpload(req: IncomingMessage, maxBytes: number): Promise<ReceivedUpload> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes + MAX_FIELD_BYTES) throw new UploadError(RpcCode.uploadTooLarge);
  const dir = await mkdtemp(path.join(tmpdir(), 'gateway-upload-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  try {
    const parts = await parseParts(req, dir, maxBytes);
    return { parts, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

function parseParts(req: IncomingMessage, dir: string, maxBytes: number): Promise<Map<string, UploadPart>> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        // busboy reports a limit once a part *reaches* it; parts of exactly the limit are allowed.
        limits: { fileSize: maxBytes + 1, files: MAX_PARTS, fields: MAX_PARTS, parts: MAX_PARTS, fieldSize: MAX_FIELD_BYTES + 1 },
      });
    } catch {
      reject(new UploadError(RpcCode.decodeError, 'Unable to decode RPC message body'));
      return;
    }
    const parts = new Map<string, UploadPart>();
    const writes: Promise<void>[] = [];
    /** Streams of files still being received: once the body is abandoned they never finish on their own. */
    const inFlight = new Set<Readable | Writable>();
    const track = <T extends Readable | Writable>(stream: T): T => {
      inFlight.add(stream);
      stream.once('close', () => inFlight.delete(stream));
      return stream;
    };
    let failed: UploadError | undefined;
    const fail = (error: UploadError) => {
      if (failed) return;
      failed = error;
      req.unpipe(parser);
      req.resume();
      // Both ends: destroying the source alone leaves a temporary file open when the sink has a write pending.
      for (const stream of inFlight) stream.destroy();
      reject(error);
    };
    parser.on('file', (name, stream, info) => {
      track(stream);
      if (isJsonBlob(info)) {
        writes.push(readJsonBlob(stream).then((value) => void parts.set(name, { kind: 'field', value }), fail));
        return;
      }
      const target = path.join(dir, `${parts.size}-${writes.length}`);
      let size = 0;
      stream.on('data', (chunk: Buffer) => (size += chunk.length));
      stream.on('limit', () => fail(new UploadError(RpcCode.uploadTooLarge)));
      const write = pipeline(stream, track(createWriteStream(target))).then(() => {
        const file: StoredFile = {
          name: info.filename ?? name,
          type: info.mimeType || 'application/octet-stream',
          size,
          path: target,
          arrayBuffer: async () => {
            const bytes = await readFile(target);
            return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer;
          },
        };
        parts.set(name, { kind: 'file', file });
      });
      // A write cut short by `fail` rejects; the upload has already been answered then.
      write.catch(() => {});
      writes.push(write);
    });
    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) return fail(new UploadError(RpcCode.uploadTooLarge));
      if (/^application\/json/i.test(info.mimeType)) {
        try {
          parts.set(name, { kind: 'field', value: JSON.parse(value) });
        } catch {
          fail(new UploadError(RpcCode.decodeError, 'Unable to decode RPC message body'));
        }
      } else {
        parts.set(name, { kind: 'field', value });
      }
    });
    for (const event of ['partsLimit', 'filesLimit', 'fieldsLimit'] as const) {
      parser.on(event, () => fail(new UploadError(RpcCode.uploadUnexpectedField)));
    }
    parser.on('error', () => fail(new UploadError(RpcCode.decodeError, 'Unable to decode RPC message body')));
    parser.on('close', () => {
      Promise.all(writes).then(
        () => {
          if (!failed) resolve(parts);
        },
        () => fail(new UploadError(RpcCode.decodeError, 'Unable to decode RPC message body')),
      );
    });
    req.on('error', () => fail(new UploadError(RpcCode.decodeError, 'Unable to decode RPC message body')));
    req.pipe(parser);
  });
}

/**
 * Browser builds of the 7.x client send JSON values as `Blob`s of type application/json, which
 * browsers name "blob": such parts are values (`params`, `data`), not uploaded files.
 */
function isJsonBlob(info: busboy.FileInfo): boolean {
  return info.filename === 'blob' && /^application\/json/i.test(info.mimeType);
}

function readJsonBlob(stream: NodeJS.ReadableStream): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_FIELD_BYTES) chunks.push(chunk);
    });
    stream.on('error', () => reject(new UploadError(RpcCode.decodeError, 'Unable to decode RPC message body')));
    stream.on('end', () => {
      if (size > MAX_FIELD_BYTES) return reject(new UploadError(RpcCode.uploadTooLarge));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new UploadError(RpcCode.decodeError, 'Unable to decode RPC message body'));
      }
    });
  });
}

/**
 * The method's positional arguments from the parts, for all three client shapes:
 * 7.152+ (`params` with `"file:<uuid>"` references), 6.x (`params` plus a `file` part, prepended)
 * and 7.0–7.151 (one part per parameter name, or one object of all parts).
 */
export function uploadArgs(parts: ReadonlyMap<string, UploadPart>, params: readonly ParamSpec[]): unknown[] {
  const valueOf = (part: UploadPart) => (part.kind === 'file' ? part.file : part.value);
  const params_ = parts.get('params');
  if (params_ && params_.kind === 'field') {
    const given = Array.isArray(params_.value) ? [...params_.value] : [params_.value];
    const referenced = new Set<string>();
    const args = given.map((arg) => {
      if (typeof arg === 'string' && arg !== 'params' && parts.get(arg)?.kind === 'file') {
        referenced.add(arg);
        return valueOf(parts.get(arg)!);
      }
      return arg;
    });
    const file = parts.get('file');
    if (file?.kind === 'file' && !referenced.has('file')) args.unshift(file.file);
    return args;
  }
  const names = params.map((param) => param.name);
  if ([...parts.keys()].every((name) => names.includes(name))) {
    const args = names.map((name) => (parts.has(name) ? valueOf(parts.get(name)!) : null));
    while (args.length > 0 && args.at(-1) === null) args.pop();
    return args;
  }
  return [Object.fromEntries([...parts].map(([name, part]) => [name, valueOf(part)]))];
}
