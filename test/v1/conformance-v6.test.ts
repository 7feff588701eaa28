import Api from 'sv6/api';
import File from 'sv6/file';
import { defineConformanceSuite, type ClientResult, type V1Client } from '../helpers/v1-conformance.ts';

/** protocol.md §6 with the published client 6.76.2 (the last 6.x), over HTTP and WebSocket. */

interface Client6 extends V1Client {
  upload(method: string, file: unknown, ...args: unknown[]): { start(): Promise<ClientResult> };
}

defineConformanceSuite({
  version: '6.76.2',
  create: (url, token) => Api.new(url, { token }) as V1Client,
  isException: (result) => (result as ClientResult & { exception: boolean }).exception,
  uploads: [
    {
      shape: '6.x: params part, then a file part (File object)',
      run: (client, filePath) => (client as Client6).upload('/v1/test/upload', new File({ path: filePath }), { a: 1 }).start(),
    },
    {
      shape: '6.x: params part, then a file part ({ path })',
      run: (client, filePath) => (client as Client6).upload('/v1/test/upload', { path: filePath }, { a: 1 }).start(),
    },
  ],
  // 6.x knows no session events; it raises `signout` when the server closes with 4000.
  signedOutEvents: { deleted: 'signout', disabled: 'signout' },
});
