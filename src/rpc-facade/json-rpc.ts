/**
 * Names a v1 client may call besides the methods of the table: event subscriptions, client events,
 * aborts and keep-alives. Over HTTP they are accepted and dropped; over WebSocket `/subscribe` and
 * `/unsubscribe` change what the connection receives and the rest are dropped.
 */
export const BUILTIN_METHODS: ReadonlySet<string> = new Set(['/subscribe', '/unsubscribe', '/publish', '/abort', '/ping', '/healthcheck']);

/** A JSON-RPC 2.0 request as the v1 transports read it. */
export interface RpcRequest {
  /** Null when the object names no method (on WebSocket: a client's answer to a server call). */
  readonly method: string | null;
  /** `params` as positional arguments: an array as it is, anything else as the only argument. */
  readonly args: unknown[];
  /** Undefined when absent or not a string, number or null. */
  readonly id: string | number | null | undefined;
  /** No `id` member at all: a notification (a v1 void call), never answered. */
  readonly notification: boolean;
}

/** A JSON object, as opposed to an array or a scalar. */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether a JSON body is a JSON-RPC envelope rather than positional arguments: an object with a
 * string `method` or a `jsonrpc` member. `{"a":1}` is one argument, not an envelope.
 */
export function isRpcEnvelope(value: unknown): value is Record<string, unknown> {
  return isJsonObject(value) && (typeof value.method === 'string' || value.jsonrpc !== undefined);
}

export function rpcRequestOf(frame: Readonly<Record<string, unknown>>): RpcRequest {
  const { method, params, id } = frame;
  return {
    method: typeof method === 'string' ? method : null,
    args: params === undefined ? [] : Array.isArray(params) ? [...(params as unknown[])] : [params],
    id: typeof id === 'string' || typeof id === 'number' || id === null ? id : undefined,
    notification: !('id' in frame),
  };
}
