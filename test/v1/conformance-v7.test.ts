import Api from '@softvisio/core/api';
import File from '@softvisio/core/file';
import { defineConformanceSuite, type ClientResult, type V1Client } from '../helpers/v1-conformance.ts';

/** protocol.md §6 with the published client 7.143.0 (npm `latest`), over HTTP and WebSocket. */

interface Client7 extends V1Client {
  upload(method: string, formData: Record<string, unknown>): { start(): Promise<ClientResult> };
}

defineConformanceSuite({
  version: '7.143.0',
  create: (url, token) => new Api(url, { token }) as V1Client,
  isException: (result) => (result as ClientResult & { isException: boolean }).isException,
  uploads: [
    {
      shape: '7.0–7.151: one part per parameter ({ file, data })',
      run: (client, filePath) => (client as Client7).upload('/v1/test/upload', { file: new File({ path: filePath }), data: { a: 1 } }).start(),
    },
  ],
  signedOutEvents: { deleted: 'sessionDelete', disabled: 'sessionDisable' },
});
