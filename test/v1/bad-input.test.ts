import { randomUUID } from 'node:crypto';
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UPLOAD_MAX_BYTES } from '../../src/rpc-facade/methods/test.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createUser, rootSession, waitFor } from '../helpers/graphql.ts';
import { apiUrl, assertEnvelope, httpCall, outcomeOf, RawWs, rawCall, rawRequest, type Envelope } from '../helpers/v1.ts';

/**
 * What the v1 facade makes of input no published client sends: broken bodies, odd paths, other
 * HTTP methods and content types, oversized and malformed uploads, bad WebSocket frames. Every
 * answer must be a well-formed envelope (the helpers check it), never a 5xx.
 */

const MiB = 1024 * 1024;
const JSON_HEADERS = { 'content-type': 'application/json' };

interface Part {
  readonly name: string;
  readonly filename?: string;
  readonly type?: string;
  readonly body: string | Buffer;
}

/** A multipart/form-data body built by hand, byte for byte. */
function multipart(parts: readonly Part[], boundary = `----v1test${randomUUID()}`): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const head = [`--${boundary}`];
    if (part.type) head.push(`Content-Type: ${part.type}`);
    head.push(`Content-Disposition: form-data; name="${part.name}"${part.filename ? `; filename="${part.filename}"` : ''}`);
    chunks.push(Buffer.from(`${head.join('\r\n')}\r\n\r\n`), Buffer.from(part.body), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** Temporary upload files the gateway (in this process) still holds open. */
function openUploadFiles(): string[] {
  return readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.includes('gateway-upload-') ? [target] : [];
    } catch {
      return [];
    }
  });
}

describe.each(MODES)('v1 facade against bad input (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;
  let port: number;
  const raws: RawWs[] = [];

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    root = await rootSession(gw, ROOT_PASSWORD);
    port = gw.gateway.port;
  });
  afterEach(async () => {
    await Promise.all(raws.splice(0).map((raw) => raw.close()));
  });
  afterAll(() => gw?.close());

  const open = async (token: string | null = null) => {
    const raw = await RawWs.open(apiUrl(gw, 'ws'), token);
    raws.push(raw);
    return raw;
  };
  const post = (path: string, body: string | Buffer, headers: Record<string, string> = JSON_HEADERS) =>
    rawCall(port, { method: 'POST', path, headers, body });

  describe('HTTP bodies', () => {
    it('invalid JSON is -32807 (HTTP 400)', async () => {
      for (const body of ['{', '["unterminated', 'nul', '[1,]', '\u0000']) {
        expect(await post('/api/v1/test/test', body), body).toMatchObject({ status: -32807, statusText: 'Unable to decode RPC message body' });
      }
      expect((await post('/api/v1/test/test', '{')).headers['content-type']).toMatch(/^application\/json/);
      expect((await post('/api/v1/test/test', '{')).status).toBe(-32807);
      expect((await rawRequest(port, { method: 'POST', path: '/api/v1/test/test', headers: JSON_HEADERS, body: '{' })).status).toBe(400);
    });

    it('invalid UTF-8 in a JSON body is -32807, not silently replaced', async () => {
      const body = Buffer.concat([Buffer.from('["'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"]')]);
      expect(await post('/api/v1/test/test', body)).toMatchObject({ status: -32807, statusText: 'Unable to decode RPC message body' });
      const password = Buffer.concat([Buffer.from('[{"username":"root","password":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]')]);
      expect(await post('/api/v1/session/signin', password)).toMatchObject({ status: -32807 });
      // Well-formed multi-byte text is fine.
      expect(await post('/api/v1/test/test', Buffer.from(JSON.stringify(['héllo wörld ✓ 𝄞'])))).toMatchObject({ status: 200 });
    });

    it('a body that is not an array is one argument; an empty body is no argument', async () => {
      expect(await post('/api/v1/test/test', '{"a":1}')).toMatchObject({ status: -32808, statusText: 'Parameter "args" is invalid' });
      expect(await post('/api/v1/test/test', '"hello"')).toMatchObject({ status: 200 });
      expect(await post('/api/v1/test/test', '5')).toMatchObject({ status: 200 });
      expect(await post('/api/v1/test/test', 'null')).toMatchObject({ status: 200 });
      expect(await post('/api/v1/test/test', '')).toMatchObject({ status: 200 });
      expect(await post('/api/v1/test/test', '[]')).toMatchObject({ status: 200 });
      expect(await post('/api/v1/profile/read', '{"a":1}', { ...JSON_HEADERS, authorization: `Bearer ${root}` })).toMatchObject({
        status: -32808,
        statusText: 'Method require no parameters',
      });
    });

    it('a JSON-RPC envelope POSTed to /api/ is answered with its id; without an id it is a void call', async () => {
      const call = (envelope: unknown, path = '/api/') => post(path, JSON.stringify(envelope), { ...JSON_HEADERS, authorization: `Bearer ${root}` });
      const answered = await call({ jsonrpc: '2.0', method: '/v1/test/test', params: [], id: 7 });
      expect(answered.envelope).toMatchObject({ jsonrpc: '2.0', id: 7, result: { status: 200 } });
      expect((await call({ jsonrpc: '2.0', method: '/v1/test/test', params: ['x'], id: 'abc' })).envelope.id).toBe('abc');
      expect((await call({ jsonrpc: '2.0', method: 'test/test', id: 8 })).envelope).toMatchObject({ id: 8, result: { status: 200 } });
      expect((await call({ jsonrpc: '2.0', method: '/v1/nope/nope', params: [], id: 9 })).envelope).toMatchObject({ id: 9, error: { code: -32809 } });
      expect((await call({ jsonrpc: '2.0', method: '/v1/test/test', params: { a: 1 }, id: 10 })).envelope).toMatchObject({ id: 10, error: { code: -32808 } });
      // The method in the body wins over the path.
      expect((await call({ jsonrpc: '2.0', method: '/v1/nope/nope', params: [], id: 11 }, '/api/v1/test/test')).envelope).toMatchObject({ id: 11, error: { code: -32809 } });

      // A void call runs, but its answer is only an acknowledgement.
      const person = await createUser(gw, root);
      const voided = await call({ jsonrpc: '2.0', method: '/v1/admin/users/set-enabled', params: [person.id, false] });
      expect(voided.envelope).toEqual({ jsonrpc: '2.0', result: { status: 200, status_text: 'OK', exception: false, meta: {} } });
      expect((await httpCall(gw, '/v1/admin/users/read', [{ id: person.id }], { token: root })).data).toMatchObject({ enabled: false });
      const failing = await call({ jsonrpc: '2.0', method: '/v1/nope/nope', params: [] });
      expect(failing.envelope).not.toHaveProperty('id');
      expect(failing.status).toBe(200);
    });

    it('void calls by header (X-API-Void-Call, API-Call-Void) answer 200 and still run', async () => {
      for (const header of ['X-API-Void-Call', 'API-Call-Void']) {
        const person = await createUser(gw, root);
        const answer = await post('/api/v1/admin/users/set-enabled', JSON.stringify([person.id, false]), {
          ...JSON_HEADERS,
          authorization: `Bearer ${root}`,
          [header]: 'true',
        });
        expect(answer, header).toMatchObject({ status: 200, statusText: 'OK' });
        expect(answer.status).toBe(200);
        expect(answer.envelope.result).not.toHaveProperty('data');
        expect((await httpCall(gw, '/v1/admin/users/read', [{ id: person.id }], { token: root })).data, header).toMatchObject({ enabled: false });
        expect(await post('/api/v1/nope/nope', '[]', { ...JSON_HEADERS, [header]: 'true' })).toMatchObject({ status: 200 });
      }
    });

    it('a 1 MiB string argument is handled, not a crash', async () => {
      const huge = 'x'.repeat(MiB);
      expect(await httpCall(gw, '/v1/test/test', [huge])).toMatchObject({ status: 200 });
      expect(await httpCall(gw, '/v1/session/signin', [{ username: huge, password: huge }])).toMatchObject({ status: 401, statusText: 'Not authenticated' });
      expect(await httpCall(gw, '/v1/session/signin', [{ username: 'root', password: huge }])).toMatchObject({ status: 401 });
      expect(await httpCall(gw, '/v1/admin/users/create', [{ username: huge }], { token: root })).toMatchObject({ status: 400 });
      expect(await httpCall(gw, '/v1/api-tokens/create', [huge], { token: root })).toMatchObject({ status: 400 });
      expect(await httpCall(gw, '/v1/admin/users/read', [{ where: { search: ['like', huge] } }], { token: root })).toMatchObject({ status: 200, data: null });
    });

    it('a body over the 4 MiB limit is 413 with a JSON-RPC error body', async () => {
      const body = JSON.stringify(['x'.repeat(4 * MiB + 10)]);
      const declared = await rawCall(port, { method: 'POST', path: '/api/v1/test/test', headers: JSON_HEADERS, body });
      expect(declared).toMatchObject({ status: 413, statusText: 'Request body is too large' });
      expect(declared.headers['content-type']).toMatch(/^application\/json/);
      const streamed = await rawCall(port, { method: 'POST', path: '/api/v1/test/test', headers: { ...JSON_HEADERS, 'transfer-encoding': 'chunked' }, body, chunked: true });
      expect(streamed).toMatchObject({ status: 413 });
      // Exactly at the limit is still read.
      const atLimit = JSON.stringify(['x'.repeat(4 * MiB - 4)]);
      expect(Buffer.byteLength(atLimit)).toBe(4 * MiB);
      expect(await post('/api/v1/test/test', atLimit)).toMatchObject({ status: 200 });
    });

    it('10 000 nested arrays are refused by the JSON depth limit, not a crash', async () => {
      const tooDeep = { status: -32807, statusText: 'JSON is nested deeper than 64 levels' };
      const nested = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
      expect(await post('/api/v1/test/test', `[${nested}]`)).toMatchObject(tooDeep);
      expect(await post('/api/v1/test/test', nested)).toMatchObject(tooDeep);
      const objects = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
      expect(await post('/api/v1/api-tokens/set-permissions', `["1",${objects}]`, { ...JSON_HEADERS, authorization: `Bearer ${root}` })).toMatchObject(tooDeep);
      expect(await post('/api/v1/admin/settings/update', `[{"app_url":${nested}}]`, { ...JSON_HEADERS, authorization: `Bearer ${root}` })).toMatchObject(tooDeep);
      // Nesting within the limit still reaches the parameter schemas.
      const shallow = `${'['.repeat(20)}${']'.repeat(20)}`;
      expect(await post('/api/v1/test/test', `[${shallow}]`)).toMatchObject({ status: -32808, statusText: 'Parameter "args" is invalid' });
    });
  });

  describe('HTTP paths, methods and content types', () => {
    it('answers -32809 for unknown methods and paths that name no method', async () => {
      for (const path of ['/api/v1/nope/nope', '/api/v1/test', '/api/v2/test/test', '/api/x/y', '/api/', '/api', '/v1/nope']) {
        const answer = await rawCall(port, { path });
        expect(answer, path).toMatchObject({ status: -32809, statusText: 'API method not found' });
      }
    });

    it('collapses repeated slashes, serves /v1/ at the root, ignores the query, refuses dot segments', async () => {
      for (const path of ['/api//v1/test/test', '/api/v1//test/test', '/v1/test/test', '/api/v1/test/test?locale=de', '/api/v1/test/test/', '/v1/test/test?x=1']) {
        expect(await rawCall(port, { path }), path).toMatchObject({ status: 200 });
      }
      for (const path of ['/api/v1/../v1/test/test', '/api/v1/./test/test', '/api/v1/test/./test', '/api/v1/test/../test/test']) {
        expect(await rawCall(port, { path }), path).toMatchObject({ status: -32809 });
      }
    });

    it('refuses content types other than JSON with -32803 (HTTP 415)', async () => {
      for (const type of ['text/plain', 'application/msgpack', 'application/x-www-form-urlencoded', 'application/jsonx']) {
        const answer = await post('/api/v1/test/test', '["x"]', { 'content-type': type });
        expect(answer, type).toMatchObject({ status: -32803, statusText: 'Unsupported content type' });
      }
      expect((await rawRequest(port, { method: 'POST', path: '/api/v1/test/test', headers: { 'content-type': 'text/plain' }, body: '[]' })).status).toBe(415);
      expect(await post('/api/v1/test/test', '["x"]', { 'content-type': 'application/json; charset=utf-8' })).toMatchObject({ status: 200 });
      expect(await post('/api/v1/test/test', '["x"]', {})).toMatchObject({ status: 200 });
    });

    it('refuses other HTTP methods with -32804 (HTTP 405)', async () => {
      for (const method of ['PUT', 'DELETE', 'PATCH']) {
        const answer = await rawCall(port, { method, path: '/api/v1/test/test', headers: JSON_HEADERS, body: '[]' });
        expect(answer, method).toMatchObject({ status: -32804, statusText: 'HTTP method not allowed' });
        expect((await rawRequest(port, { method, path: '/api/v1/test/test' })).status).toBe(405);
      }
      // HEAD would run the method without showing its answer (a sign-out, say).
      expect((await rawRequest(port, { method: 'HEAD', path: '/api/v1/session/signout' })).status).toBe(405);
    });

    it('answers a CORS preflight with 200, any origin, and Authorization allowed', async () => {
      const answer = await rawRequest(port, {
        method: 'OPTIONS',
        path: '/api/v1/admin/users/read',
        headers: { origin: 'https://example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['access-control-allow-origin']).toBe('*');
      expect(String(answer.headers['access-control-allow-headers']).toLowerCase()).toMatch(/\bauthorization\b/);
      expect(String(answer.headers['access-control-allow-headers']).toLowerCase()).toMatch(/\bcontent-type\b/);
      expect(String(answer.headers['access-control-allow-methods'])).toMatch(/\bPOST\b/);
      expect((await rawCall(port, { path: '/api/v1/test/test', headers: { origin: 'https://example.com' } })).headers['access-control-allow-origin']).toBe('*');
    });
  });

  describe('uploads', () => {
    it('the 7.152+ shape sent by hand (protocol.md §1.7) answers 200 with the data', async () => {
      const uuid = randomUUID();
      const { body, contentType } = multipart([
        { name: 'params', type: 'application/json', body: JSON.stringify([`file:${uuid}`, { a: 1 }]) },
        { name: `file:${uuid}`, filename: 'up.txt', type: 'text/plain; name="up.txt"', body: 'hello upload' },
      ]);
      const answer = await rawCall(port, { method: 'POST', path: '/api/v1/test/upload', headers: { 'content-type': contentType }, body });
      expect(answer).toMatchObject({ status: 200 });
      expect(answer.data).toEqual({ a: 1 });
    });

    it('the shapes a browser sends (JSON values as Blobs) answer 200 with the data', async () => {
      const uuid = randomUUID();
      const file = new Blob(['hello upload'], { type: 'text/plain' });
      const json = (value: unknown) => new Blob([JSON.stringify(value)], { type: 'application/json' });
      const shapes: Record<string, FormData> = {};
      shapes['7.152+'] = new FormData();
      shapes['7.152+'].append('params', json([`file:${uuid}`, { a: 1 }]));
      shapes['7.152+'].append(`file:${uuid}`, file, 'up.txt');
      shapes['7.0–7.151'] = new FormData();
      shapes['7.0–7.151'].append('file', file, 'up.txt');
      shapes['7.0–7.151'].append('data', json({ a: 1 }));
      shapes['6.x'] = new FormData();
      shapes['6.x'].append('params', json([{ a: 1 }]));
      shapes['6.x'].append('file', file, 'up.txt');
      for (const [shape, form] of Object.entries(shapes)) {
        const answer = await httpCall(gw, '/v1/test/upload', undefined, { method: 'POST', body: form, token: root });
        expect(answer, shape).toMatchObject({ status: 200 });
        expect(answer.data, shape).toEqual({ a: 1 });
      }
      // A JSON object where the file belongs is named as the invalid parameter.
      const notAFile = new FormData();
      notAFile.append('params', json([{ name: 'up.txt' }, { a: 1 }]));
      expect(await httpCall(gw, '/v1/test/upload', undefined, { method: 'POST', body: notAFile, token: root })).toMatchObject({
        status: -32808,
        statusText: 'Parameter "file" is invalid',
      });
    });

    it('a file over the 10 MiB limit is -32902 (HTTP 413), and its temporary file is released', async () => {
      const big = Buffer.alloc(UPLOAD_MAX_BYTES + 1, 0x61);
      const { body, contentType } = multipart([
        { name: 'params', type: 'application/json', body: '[{"a":1}]' },
        { name: 'file', filename: 'big.bin', type: 'application/octet-stream', body: big },
      ]);
      const declared = await rawCall(port, { method: 'POST', path: '/api/v1/test/upload', headers: { 'content-type': contentType }, body });
      expect(declared).toMatchObject({ status: -32902, statusText: 'Upload too large' });
      expect(declared.headers['content-type']).toMatch(/^application\/json/);
      expect((await rawRequest(port, { method: 'POST', path: '/api/v1/test/upload', headers: { 'content-type': contentType }, body })).status).toBe(413);
      const streamed = await rawCall(port, { method: 'POST', path: '/api/v1/test/upload', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' }, body, chunked: true });
      expect(streamed).toMatchObject({ status: -32902 });
      const twice = multipart([{ name: 'file', filename: 'twice.bin', type: 'application/octet-stream', body: Buffer.alloc(2 * UPLOAD_MAX_BYTES, 0x62) }]);
      const far = await rawCall(port, { method: 'POST', path: '/api/v1/test/upload', headers: { 'content-type': twice.contentType, 'transfer-encoding': 'chunked' }, body: twice.body, chunked: true });
      expect(far).toMatchObject({ status: -32902 });
      // Exactly at the limit is accepted.
      const fits = multipart([
        { name: 'params', type: 'application/json', body: '[{"a":1}]' },
        { name: 'file', filename: 'fits.bin', type: 'application/octet-stream', body: Buffer.alloc(UPLOAD_MAX_BYTES, 0x61) },
      ]);
      expect(await rawCall(port, { method: 'POST', path: '/api/v1/test/upload', headers: { 'content-type': fits.contentType }, body: fits.body })).toMatchObject({ status: 200, data: { a: 1 } });
      await waitFor(async () => openUploadFiles().length === 0, 3000).catch(() => {});
      expect(openUploadFiles()).toEqual([]);
    });

    it('malformed multipart bodies are -32807; multipart to a method that takes no uploads is -32903', async () => {
      const { body, contentType } = multipart([{ name: 'params', type: 'application/json', body: '[{"a":1}]' }]);
      const upload = (headers: Record<string, string>, payload: string | Buffer, path = '/api/v1/test/upload') =>
        rawCall(port, { method: 'POST', path, headers, body: payload });
      expect(await upload({ 'content-type': 'multipart/form-data' }, body)).toMatchObject({ status: -32807 });
      expect(await upload({ 'content-type': contentType }, body.subarray(0, body.length - 20))).toMatchObject({ status: -32807 });
      expect(await upload({ 'content-type': contentType }, Buffer.concat([body.subarray(0, 60), Buffer.from('\r\n\r\n{broken')]))).toMatchObject({ status: -32807 });
      const badJson = multipart([{ name: 'params', type: 'application/json', body: '[{"a":' }]);
      expect(await upload({ 'content-type': badJson.contentType }, badJson.body)).toMatchObject({ status: -32807 });
      expect(await upload({ 'content-type': contentType }, body, '/api/v1/test/test')).toMatchObject({ status: -32903 });
      expect(await upload({ 'content-type': contentType }, body, '/api/v1/nope/nope')).toMatchObject({ status: -32809 });
      expect(await upload({ 'content-type': contentType }, body, '/api/v1/admin/users/read')).toMatchObject({ status: -32801 });
      const tooManyParts = multipart(Array.from({ length: 40 }, (_, index) => ({ name: `p${index}`, body: 'x' })));
      expect(await upload({ 'content-type': tooManyParts.contentType }, tooManyParts.body)).toMatchObject({ status: -32907 });
    });

    it('calling an upload method as JSON is -32904, over WebSocket -32900', async () => {
      expect(await httpCall(gw, '/v1/test/upload', [null, { a: 1 }])).toMatchObject({ status: -32904, statusText: 'API upload method called as RPC' });
      const raw = await open();
      expect(await raw.call('/v1/test/upload', [null, { a: 1 }])).toMatchObject({ status: -32900, statusText: 'Upload using websockets is not supported' });
    });
  });

  describe('WebSocket frames', () => {
    const errorFrame = (raw: RawWs, code: number) =>
      raw.next((frame) => (frame as Envelope).error?.code === code).then((frame) => outcomeOf(assertEnvelope(frame, 'WS error frame')));

    it('a text frame that is not JSON is -32807; the connection stays usable', async () => {
      const raw = await open();
      raw.send('{not json');
      expect(await errorFrame(raw, -32807)).toMatchObject({ statusText: 'Unable to decode RPC message body' });
      raw.send('[1,2,3]');
      raw.send('5');
      await raw.call('/v1/test/test');
      expect(raw.frames.filter((frame) => (frame as Envelope).error?.code === -32807)).toHaveLength(3);
      expect((await raw.call('/v1/test/test')).status).toBe(200);
    });

    it('a binary frame is -32803; the connection stays usable', async () => {
      const raw = await open();
      raw.send(Buffer.from(JSON.stringify({ jsonrpc: '2.0', method: '/v1/test/test', params: [], id: 99 })), { binary: true });
      expect(await errorFrame(raw, -32803)).toMatchObject({ statusText: 'Unsupported content type' });
      expect(raw.frames.some((frame) => (frame as Envelope).id === 99)).toBe(false);
      expect((await raw.call('/v1/test/test')).status).toBe(200);
    });

    it('invalid UTF-8 in a text frame closes the connection with 1007; a new connection works', async () => {
      const raw = await open();
      raw.ws.send(Buffer.concat([Buffer.from('["'), Buffer.from([0xff, 0xfe]), Buffer.from('"]')]), { binary: false });
      expect((await raw.closed).code).toBe(1007);
      const fresh = await open();
      expect((await fresh.call('/v1/test/test')).status).toBe(200);
    });

    it('frames without a method (answers to server calls) get no answer; unknown fields are ignored', async () => {
      const raw = await open();
      raw.send(JSON.stringify({ jsonrpc: '2.0', error: { code: -32800, message: 'RPC calls are not supported', data: { exception: false, meta: {} } }, id: 777 }));
      raw.send(JSON.stringify({ jsonrpc: '2.0', result: { status: 200 }, id: 778 }));
      expect((await raw.call('/v1/test/test')).status).toBe(200);
      expect(raw.frames).toHaveLength(1);
    });

    it('odd calls: unknown methods, 1 MiB strings, deep nesting, non-array params', async () => {
      const raw = await open(root);
      expect(await raw.call('/v1/nope/nope')).toMatchObject({ status: -32809, statusText: 'API method not found' });
      expect(await raw.call('nope/nope')).toMatchObject({ status: -32809 });
      expect(await raw.call('/v1/test/test', ['x'.repeat(MiB)])).toMatchObject({ status: 200 });
      expect(await raw.call('/v1/admin/users/create', [{ username: 'y'.repeat(MiB) }])).toMatchObject({ status: 400 });
      // Built as text: JSON.stringify of the value itself would overflow this side's stack.
      raw.send(`{"jsonrpc":"2.0","method":"/v1/test/test","params":[${'['.repeat(10_000)}${']'.repeat(10_000)}],"id":"deep"}`);
      const deep = outcomeOf(assertEnvelope(await raw.next((frame) => (frame as Envelope).id === 'deep')));
      // Answered under the call's id, and the connection stays open (the next calls below).
      expect(deep).toMatchObject({ status: -32807, statusText: 'JSON is nested deeper than 64 levels' });
      expect(await raw.call('/v1/test/test', 'single')).toMatchObject({ status: 200 });
      expect(await raw.call('/v1/test/test', { a: 1 })).toMatchObject({ status: -32808 });
      expect((await raw.call('/v1/test/test')).status).toBe(200);
    });
  });

  it('the gateway is still healthy afterwards', async () => {
    const response = await fetch(`${gw.url}/healthz`);
    expect(response.status).toBe(200);
    expect((await httpCall(gw, '/v1/test/test')).status).toBe(200);
  });
});
