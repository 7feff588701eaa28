import { builder } from '../builder.ts';

const UploadedFileInfo = builder
  .objectRef<{ name: string; type: string; size: number }>('UploadedFileInfo')
  .implement({
    fields: (t) => ({
      name: t.exposeString('name'),
      type: t.exposeString('type'),
      size: t.exposeInt('size', { description: 'Bytes received.' }),
    }),
  });

const TestUploadPayload = builder
  .objectRef<{ data: unknown; file: { name: string; type: string; size: number } | null }>('TestUploadPayload')
  .implement({
    fields: (t) => ({
      data: t.expose('data', { type: 'JSON', nullable: true, description: 'The `data` argument as received.' }),
      file: t.expose('file', { type: UploadedFileInfo, nullable: true }),
    }),
  });

builder.mutationField('testUpload', (t) =>
  t.field({
    type: TestUploadPayload,
    description: 'Echoes an uploaded file\'s description and `data`: a probe for upload clients.',
    authScopes: { public: true },
    args: {
      file: t.arg({ type: 'File' }),
      data: t.arg({ type: 'JSON' }),
    },
    resolve: (_root, { file, data }) => ({
      data: data ?? null,
      file: file ? { name: file.name, type: file.type, size: file.size } : null,
    }),
  }),
);
