import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildSchema } from '../../src/graph/schema.ts';
import { v1Catalogue } from '../../src/rpc-facade/catalogue.ts';
import type { V1Method } from '../../src/rpc-facade/method.ts';
import { V1_METHODS } from '../../src/rpc-facade/methods/index.ts';
import { MODES, ROOT_PASSWORD, startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { createUser, rootSession } from '../helpers/graphql.ts';
import {
  apiUrl,
  closedObject,
  coercibleValue,
  httpCall,
  minimalArgs,
  RawWs,
  sampleValue,
  TRANSPORTS,
  wrongValue,
  type Outcome,
  type Transport,
} from '../helpers/v1.ts';

/**
 * Parameter validation derived from the method table: argument counts, wrong types, coercion,
 * closed objects, and the order of checks (method → permission → parameters). Calls are made as
 * root so the permission check passes; upload methods are called with multipart `params`.
 */

const INVALID_COUNT = [-32808, 'Invalid number of parameters'] as const;
const NO_PARAMS = [-32808, 'Method require no parameters'] as const;
const invalid = (name: string) => [-32808, `Parameter "${name}" is invalid`] as const;

const requiredCount = (method: V1Method) => method.params.reduce((count, param, index) => (param.required ? index + 1 : count), 0);

/** [method id, description, args, expected status, expected text] rows derived from the table. */
type Case = readonly [string, string, readonly unknown[], number, string];

function countCases(): Case[] {
  const cases: Case[] = [];
  for (const method of V1_METHODS) {
    const args = minimalArgs(method);
    if (method.params.length === 0) {
      cases.push([method.id, 'one argument', [1], ...NO_PARAMS], [method.id, 'a null argument', [null], ...NO_PARAMS]);
      continue;
    }
    if (requiredCount(method) > 0) cases.push([method.id, 'one argument too few', args.slice(0, -1), ...INVALID_COUNT]);
    const full = method.params.map((param, index) => (index < args.length ? args[index] : null));
    cases.push([method.id, 'one argument too many', [...full, null], ...INVALID_COUNT]);
  }
  return cases;
}

function wrongTypeCases(): Case[] {
  return V1_METHODS.flatMap((method) =>
    method.params.map((param, index): Case => {
      const args = [...minimalArgs(method)];
      while (args.length <= index) args.push(null);
      args[index] = wrongValue(param.schema);
      return [method.id, `${param.name} = ${JSON.stringify(args[index])}`, args, ...invalid(param.name)];
    }),
  );
}

function closedObjectCases(): Case[] {
  return V1_METHODS.flatMap((method) =>
    method.params.flatMap((param, index): Case[] => {
      if (!closedObject(param)) return [];
      const args = [...minimalArgs(method)];
      while (args.length <= index) args.push(null);
      args[index] = { ...(sampleValue(param.schema) as object), not_a_property: 1 };
      return [[method.id, `${param.name} with an extra property`, args, ...invalid(param.name)]];
    }),
  );
}

/** Arguments the schemas accept only after coercion, or as null for optional parameters. */
function acceptedCases(): (readonly [string, string, unknown[]])[] {
  return V1_METHODS.flatMap((method) =>
    method.params.flatMap((param, index) => {
      const cases: (readonly [string, string, unknown[]])[] = [];
      const base = [...minimalArgs(method)];
      while (base.length <= index) base.push(null);
      const sample = [...base];
      sample[index] = sampleValue(param.schema);
      cases.push([method.id, `${param.name} = ${JSON.stringify(sample[index])}`, sample]);
      const coercible = coercibleValue(param.schema);
      if (coercible) {
        const args = [...base];
        args[index] = coercible.given;
        cases.push([method.id, `${param.name} = ${JSON.stringify(coercible.given)}`, args]);
      }
      if (!param.required) {
        const args = [...base];
        args[index] = null;
        cases.push([method.id, `${param.name} = null`, args]);
      }
      return cases;
    }),
  );
}

const BY_ID = new Map(V1_METHODS.map((method) => [method.id, method]));

describe('the published v1 catalogue', () => {
  it('schema/v1-methods.json is what the method table generates', () => {
    const committed = readFileSync(path.resolve('schema/v1-methods.json'), 'utf8');
    expect(committed, 'schema/v1-methods.json is stale: run `npm run schema:print` and commit the result').toBe(v1Catalogue(buildSchema()));
  });

  it('lists every method of the table with its permission', () => {
    const catalogue = JSON.parse(v1Catalogue(buildSchema())) as { methods: { id: string; permission: string; params: unknown[] }[] };
    expect(catalogue.methods.map((method) => [method.id, method.permission, method.params.length]).sort()).toEqual(
      V1_METHODS.map((method) => [method.id, method.permission, method.params.length]).sort(),
    );
  });
});

describe.each(MODES)('v1 parameter validation (%s)', (mode) => {
  let gw: TestGateway;
  let root: string;

  beforeAll(async () => {
    gw = await startTestGateway(mode);
    root = await rootSession(gw, ROOT_PASSWORD);
  });
  afterAll(() => gw?.close());

  describe.each(TRANSPORTS)('over %s', (transport: Transport) => {
    let asRoot: RawWs | undefined;
    let asGuest: RawWs | undefined;
    beforeAll(async () => {
      if (transport === 'ws') [asRoot, asGuest] = await Promise.all([RawWs.open(apiUrl(gw, 'ws'), root), RawWs.open(apiUrl(gw, 'ws'))]);
    });
    afterAll(async () => {
      await Promise.all([asRoot?.close(), asGuest?.close()]);
    });

    /** Upload methods take their arguments from a multipart `params` part (the 7.152+ shape); over WS they are refused first. */
    const callAs = async (as: 'root' | 'guest', id: string, args: readonly unknown[]): Promise<Outcome> => {
      const method = BY_ID.get(id);
      if (transport === 'ws') return (as === 'root' ? asRoot : asGuest)!.call(id, args);
      const token = as === 'root' ? root : null;
      if (method?.upload) {
        // An object where a file parameter is becomes a file part, referenced as the 7.152+ clients do.
        const form = new FormData();
        const sent = args.map((arg, index) => {
          if (method.params[index]?.schema.type !== 'object' || arg === null || typeof arg !== 'object' || Array.isArray(arg)) return arg;
          const reference = `file:${randomUUID()}`;
          form.append(reference, new Blob(['file content'], { type: 'text/plain' }), 'file.txt');
          return reference;
        });
        form.append('params', new Blob([JSON.stringify(sent)], { type: 'application/json' }));
        return httpCall(gw, id, undefined, { token, method: 'POST', body: form });
      }
      return httpCall(gw, id, args, { token, method: 'POST' });
    };
    const call = (id: string, args: readonly unknown[]) => callAs('root', id, args);
    const applies = (id: string) => transport === 'http' || !BY_ID.get(id)?.upload;
    const cases = (rows: Case[]) => rows.filter(([id]) => applies(id));

    it.each(cases(countCases()))('%s: %s', async (id, _what, args, status, text) => {
      expect(await call(id, args)).toMatchObject({ status, statusText: text, exception: false });
    });

    it.each(cases(wrongTypeCases()))('%s: %s is refused', async (id, _what, args, status, text) => {
      expect(await call(id, args)).toMatchObject({ status, statusText: text });
    });

    it.each(cases(closedObjectCases()))('%s: %s is refused', async (id, _what, args, status, text) => {
      expect(await call(id, args)).toMatchObject({ status, statusText: text });
    });

    it.each(acceptedCases().filter(([id]) => applies(id)))('%s: %s is accepted', async (id, _what, args) => {
      const outcome = await call(id, args);
      expect(outcome.status, `${outcome.status} ${outcome.statusText}`).not.toBe(-32808);
      expect(outcome.status).not.toBe(500);
    });

    it('over WebSocket an upload method is refused before its parameters (-32900)', async () => {
      if (transport === 'http') {
        // Over HTTP a JSON call to it is refused the same way (-32904), whatever the arguments.
        expect(await httpCall(gw, '/v1/test/upload', [1, 2, 3, 4], { token: root })).toMatchObject({ status: -32904, statusText: 'API upload method called as RPC' });
        return;
      }
      expect(await call('/v1/test/upload', [1, 2, 3, 4])).toMatchObject({ status: -32900, statusText: 'Upload using websockets is not supported' });
    });

    it('coerces for real: a numeric id, "true", "10" and 100 reach the method as the declared types', async () => {
      const person = await createUser(gw, root, { enabled: false });
      const enabled = await call('/v1/admin/users/set-enabled', [Number(person.id), 'true']);
      expect(enabled).toMatchObject({ status: 200, meta: { rows: 1 } });
      expect((await call('/v1/admin/users/read', [{ id: person.id }])).data).toMatchObject({ id: person.id, enabled: true });
      await createUser(gw, root);
      const page = await call('/v1/admin/users/read', [{ limit: '1', offset: '1' }]);
      expect(page.status).toBe(200);
      expect(page.data).toHaveLength(1);
      const created = await call('/v1/api-tokens/create', [100]);
      expect(created.status).toBe(200);
      const { id } = created.data as { id: string };
      expect((await call('/v1/api-tokens/read', [{ id }])).data).toMatchObject({ id, name: '100' });
      // null for a required string becomes "", which names nobody.
      expect(await call('/v1/admin/users/delete', [null])).toMatchObject({ status: 404, statusText: 'User not found' });
    });

    it('reports every invalid parameter, joined with "; "', async () => {
      expect(await call('/v1/admin/users/set-enabled', [{}, 'yes'])).toMatchObject({
        status: -32808,
        statusText: 'Parameter "user_id" is invalid; Parameter "enabled" is invalid',
      });
      expect(await call('/v1/admin/users/set-password', ['100', { a: 1 }])).toMatchObject({ status: -32808, statusText: 'Parameter "password" is invalid' });
      expect(await call('/v1/admin/users/read', [{ limit: -1 }])).toMatchObject({ status: -32808, statusText: 'Parameter "options" is invalid' });
      expect(await call('/v1/admin/users/read', [{ where: { nope: ['=', 1] } }])).toMatchObject({ status: -32808 });
      expect(await call('/v1/admin/users/read', [{ order_by: [['password', 'asc']] }])).toMatchObject({ status: -32808 });
      expect(await call('/v1/session/signin', [{ username: 'a' }])).toMatchObject({ status: -32808, statusText: 'Parameter "credentials" is invalid' });
    });

    it('checks the method, then the permission, then the parameters', async () => {
      const guarded = V1_METHODS.filter((method) => method.permission !== '*' && applies(method.id));
      expect(guarded.length).toBeGreaterThan(0);
      for (const method of guarded) {
        const tooMany = [...method.params.map(() => null), 1, 2];
        expect(await callAs('guest', method.id, tooMany), method.id).toMatchObject({ status: -32801 });
        const wrong = method.params.map((param) => wrongValue(param.schema));
        expect(await callAs('guest', method.id, wrong), method.id).toMatchObject({ status: -32801 });
      }
      expect(await callAs('guest', '/v1/nope/nope', [1, 2, 3])).toMatchObject({ status: -32809, statusText: 'API method not found' });
      expect(await call('/v1/nope/nope', [{ bad: true }])).toMatchObject({ status: -32809 });
    });
  });
});
