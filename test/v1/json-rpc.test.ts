import { describe, expect, it } from 'vitest';
import { collapseSlashes } from '../../src/http/url-path.ts';
import { v1Target } from '../../src/rpc-facade/http-transport.ts';
import { BUILTIN_METHODS, isRpcEnvelope, rpcRequestOf } from '../../src/rpc-facade/json-rpc.ts';

describe('JSON-RPC requests', () => {
  it('tell an envelope from a body of positional arguments', () => {
    expect(isRpcEnvelope({ jsonrpc: '2.0', method: '/v1/test/test', params: [], id: 1 })).toBe(true);
    expect(isRpcEnvelope({ method: '/v1/test/test' })).toBe(true);
    // `jsonrpc` alone still makes an envelope: one that names no method.
    expect(isRpcEnvelope({ jsonrpc: '2.0' })).toBe(true);
    for (const body of [{ a: 1 }, { method: 42 }, [{ method: '/v1/test/test' }], 'x', null, 3]) {
      expect(isRpcEnvelope(body), JSON.stringify(body)).toBe(false);
    }
  });

  it('read params as positional arguments', () => {
    const params = ['a', { b: 1 }];
    const request = rpcRequestOf({ method: '/v1/test/test', params, id: 1 });
    expect(request.args).toEqual(params);
    expect(request.args).not.toBe(params);
    expect(rpcRequestOf({ method: 'm', params: { a: 1 } }).args).toEqual([{ a: 1 }]);
    expect(rpcRequestOf({ method: 'm', params: null }).args).toEqual([null]);
    expect(rpcRequestOf({ method: 'm' }).args).toEqual([]);
  });

  it('keep string, number and null ids; no id member makes a notification', () => {
    expect(rpcRequestOf({ method: 'm', id: 7 })).toMatchObject({ id: 7, notification: false });
    expect(rpcRequestOf({ method: 'm', id: 'abc' })).toMatchObject({ id: 'abc', notification: false });
    expect(rpcRequestOf({ method: 'm', id: null })).toMatchObject({ id: null, notification: false });
    expect(rpcRequestOf({ method: 'm', id: { x: 1 } })).toMatchObject({ id: undefined, notification: false });
    expect(rpcRequestOf({ method: 'm' })).toMatchObject({ id: undefined, notification: true });
    // An answer to a server-initiated call names no method.
    expect(rpcRequestOf({ jsonrpc: '2.0', id: 3, error: { code: -32800 } }).method).toBeNull();
  });
});

describe('v1 paths', () => {
  it('collapse repeated slashes', () => {
    expect(collapseSlashes('/api//v1///test/test')).toBe('/api/v1/test/test');
    expect(collapseSlashes('/api/v1/test/test')).toBe('/api/v1/test/test');
  });

  it('address methods, the envelope endpoint and every built-in the same way over any mount', () => {
    for (const path of ['/api/v1/test/test', '/api//v1/test/test', '/v1/test/test', '/api/v1/test/test/']) {
      expect(v1Target(path), path).toEqual({ kind: 'method', id: '/v1/test/test' });
    }
    expect(v1Target('/api/')).toEqual({ kind: 'envelope' });
    expect(v1Target('/api')).toEqual({ kind: 'envelope' });
    for (const name of BUILTIN_METHODS) expect(v1Target(`/api${name}`), name).toEqual({ kind: 'builtin', name });
    expect(v1Target('/api/v1/../admin')).toEqual({ kind: 'none' });
    expect(v1Target('/api/other')).toEqual({ kind: 'none' });
  });
});
