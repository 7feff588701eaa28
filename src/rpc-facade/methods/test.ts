import { graphql } from '../graphql.ts';
import { v1Method, type V1Method } from '../method.ts';
import { failure, ok, RpcCode } from '../result.ts';
import { isStoredFile } from '../upload.ts';

export const UPLOAD_MAX_BYTES = 10 * 1024 * 1024;

export const testMethods: V1Method[] = [
  v1Method({
    id: '/v1/test/test',
    permission: '*',
    title: 'Test',
    params: [{ name: 'args', required: false, schema: { type: 'string' } }],
    document: graphql(`query TestTest { serverTime }`),
    plan: () => ({ variables: {} }),
    result: (data) => ok(data.serverTime),
  }),
  v1Method({
    id: '/v1/test/upload',
    permission: '*',
    title: 'Test upload',
    params: [
      { name: 'file', required: false, schema: { type: 'object' }, description: `Maximum file size: ${UPLOAD_MAX_BYTES} bytes.` },
      { name: 'data', required: false, schema: { type: ['string', 'object'] } },
    ],
    upload: { maxBytes: UPLOAD_MAX_BYTES },
    document: graphql(`mutation TestUpload($file: File, $data: JSON) { testUpload(file: $file, data: $data) { data } }`),
    plan: ([file, data]) =>
      file === null || file === undefined || isStoredFile(file)
        ? { variables: { file: file ?? null, data: data ?? null } }
        : failure(RpcCode.invalidParams, 'Parameter "file" is invalid'),
    result: (data) => ok(data.testUpload.data),
  }),
];
