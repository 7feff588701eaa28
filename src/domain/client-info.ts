/** Who is calling, as far as the transport can tell: the client's address (behind trusted proxies, the real one) and its user agent. */
export interface ClientInfo {
  readonly address: string;
  readonly userAgent: string | null;
}
