import type { Logger } from '../logger.ts';
import type { Domain } from '../domain/domain.ts';
import type { Principal } from '../domain/principal.ts';

/** Everything a resolver may use; built once per HTTP request or per graphql-ws connection. */
export interface GraphContext {
  readonly principal: Principal;
  readonly domain: Domain;
  readonly requestId: string;
  readonly log: Logger;
  readonly client: ClientInfo;
}

export interface ClientInfo {
  readonly address: string;
  readonly userAgent: string | null;
}
