import { STATUS_CODES } from 'node:http';

/** A v1 result: `status` is HTTP-like (200, 204, 400, …), an SMTP reply code, or a negative JSON-RPC code. */
export interface V1Result {
  readonly status: number;
  readonly statusText?: string;
  readonly exception?: boolean;
  /** Present only on success; `null` is a value ("no rows"). */
  readonly data?: unknown;
  readonly meta?: Readonly<Record<string, unknown>>;
  /**
   * Set when a limit refused the call before it ran: the rule's name (`perAddress`,
   * `concurrentPerCaller`, …: `RULE_NAMES`). The call log counts it as declined; it never goes on the wire.
   */
  readonly declinedBy?: string;
  /**
   * The HTTP status line, when the status is not this server's (test-smtp passes SMTP reply codes
   * through: the call worked, and a 535 of the SMTP server is no HTTP error of the gateway).
   */
  readonly httpStatus?: number;
}

/** The framework codes of API v1, with the texts the original server sent. */
export const RpcCode = {
  rpcNotSupported: -32800,
  permissionDenied: -32801,
  tooManyRequests: -32802,
  unsupportedContentType: -32803,
  httpMethodNotAllowed: -32804,
  decodeError: -32807,
  invalidParams: -32808,
  methodNotFound: -32809,
  persistentConnectionRequired: -32810,
  uploadOverWebSocket: -32900,
  uploadSizeRequired: -32901,
  uploadTooLarge: -32902,
  notAnUploadMethod: -32903,
  uploadCalledAsRpc: -32904,
  uploadFileRequired: -32905,
  uploadContentTypeInvalid: -32906,
  uploadUnexpectedField: -32907,
} as const;

const RPC_TEXTS: Readonly<Record<number, string>> = {
  [-32800]: 'RPC calls are not supported',
  [-32801]: 'Insufficient permissions to call API method',
  [-32802]: 'Too many requests',
  [-32803]: 'Unsupported content type',
  [-32804]: 'HTTP method not allowed',
  [-32807]: 'Unable to decode RPC message body',
  [-32808]: 'Parameters validation error',
  [-32809]: 'API method not found',
  [-32810]: 'Persistent connection is required to call API method',
  [-32900]: 'Upload using websockets is not supported',
  [-32901]: 'Upload size is required',
  [-32902]: 'Upload too large',
  [-32903]: 'API method does not support uploads',
  [-32904]: 'API upload method called as RPC',
  [-32905]: 'Upload file is required',
  [-32906]: 'Upload file content type is invalid',
  [-32907]: 'Unexpected multipart/form-data field',
};

/** The HTTP status the original server put on the line for each framework code. */
const RPC_HTTP_STATUS: Readonly<Record<number, number>> = {
  [-32801]: 401,
  [-32802]: 429,
  [-32803]: 415,
  [-32804]: 405,
  [-32809]: 404,
  [-32901]: 411,
  [-32902]: 413,
};

export function statusText(status: number): string {
  return RPC_TEXTS[status] ?? STATUS_CODES[status] ?? (status < 0 ? 'Bad Request' : 'Unknown status');
}

export function isOk(status: number): boolean {
  return status >= 200 && status < 300;
}

export function ok(data?: unknown, meta?: Record<string, unknown>, statusTextOverride?: string): V1Result {
  return { status: 200, statusText: statusTextOverride, data, meta };
}

export function failure(status: number, message?: string, meta?: Record<string, unknown>): V1Result {
  return { status, statusText: message, meta };
}

/** A call a limit refused (-32802 unless told otherwise), recorded as declined by `rule`. */
export function declined(rule: string, result: V1Result = failure(RpcCode.tooManyRequests)): V1Result {
  return { ...result, declinedBy: rule };
}

export const INTERNAL_ERROR: V1Result = { status: 500, statusText: 'Internal Server Error', exception: true };

/** A store the call needs (the database) is away: try again soon. */
export const SERVICE_UNAVAILABLE: V1Result = { status: 503, statusText: 'Service Unavailable', exception: false, meta: { retry_after: 1 } };

/** A limit refused the call: `-32802` with the wait in whole seconds (`meta.retry_after`). */
export function tooManyRequests(retryAfterMs: number): V1Result {
  return failure(RpcCode.tooManyRequests, undefined, { retry_after: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
}

/** The `Retry-After` header of a refusal that names a wait (limits, an unavailable store). */
export function retryAfterHeader(result: V1Result): Record<string, string> {
  const wait = result.meta?.retry_after;
  return typeof wait === 'number' && (result.status === RpcCode.tooManyRequests || result.status === 503) ? { 'retry-after': String(wait) } : {};
}

/**
 * The status line for a result. Clients read the body, but curl users and proxies see this line:
 * every 2xx becomes 200 (never 204, which strips the body), errors keep their HTTP class.
 */
export function httpStatusOf(status: number): number {
  if (status < 0) return RPC_HTTP_STATUS[status] ?? 400;
  if (status >= 400 && status < 600) return STATUS_CODES[status] ? status : Math.floor(status / 100) * 100;
  if (status >= 600) return 500;
  return 200;
}

/**
 * The JSON-RPC 2.0 response. Errors always carry `error.data.meta` (the published clients break
 * without it) and never `data.data`; `id` appears only when the request had one.
 */
export function envelope(result: V1Result, id?: string | number | null): string {
  const text = result.statusText ?? statusText(result.status);
  const meta = result.meta ?? {};
  const exception = result.exception ?? false;
  const idPart = id === undefined ? '' : `"id":${JSON.stringify(id)},`;
  if (isOk(result.status) || (result.status >= 100 && result.status < 400)) {
    const dataPart = result.data === undefined ? '' : `,"data":${JSON.stringify(result.data)}`;
    return `{"jsonrpc":"2.0",${idPart}"result":{"status":${result.status},"status_text":${JSON.stringify(text)},"exception":${exception}${dataPart},"meta":${JSON.stringify(meta)}}}`;
  }
  return `{"jsonrpc":"2.0",${idPart}"error":{"code":${result.status},"message":${JSON.stringify(text)},"data":{"exception":${exception},"meta":${JSON.stringify(meta)}}}}`;
}
