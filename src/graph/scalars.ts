import { GraphQLError } from 'graphql';
import { GraphQLDateTimeISO, GraphQLJSON } from 'graphql-scalars';
import { builder, type UploadedFile } from './builder.ts';

// The ISO variant serialises to `toISOString()` strings: plain `DateTime` would hand Date objects
// to in-process readers such as the v1 result mappings. Our description states the exact format.
builder.addScalarType('DateTime', GraphQLDateTimeISO, {
  description: 'A point in time, as an ISO-8601 string in UTC (e.g. "2026-11-24T05:13:34.123Z").',
});

builder.addScalarType('JSON', GraphQLJSON);

builder.scalarType('File', {
  description: 'A file sent as a part of a multipart request (GraphQL multipart request specification).',
  serialize: () => {
    throw new GraphQLError('File is an input-only scalar');
  },
  parseValue: (value) => {
    if (!isUploadedFile(value)) throw new GraphQLError('File must be a part of a multipart request');
    return value;
  },
});

function isUploadedFile(value: unknown): value is UploadedFile {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as UploadedFile).name === 'string' &&
    typeof (value as UploadedFile).size === 'number' &&
    typeof (value as UploadedFile).arrayBuffer === 'function'
  );
}
