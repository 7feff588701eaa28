import { BlockList, isIP } from 'node:net';

/**
 * Which peers may tell the gateway who the client is (`TRUST_PROXY`): nobody, the nearest `hops`
 * proxies whatever their address, or proxies at the listed addresses and networks.
 */
export type TrustProxy =
  | { readonly kind: 'none' }
  | { readonly kind: 'hops'; readonly hops: number }
  | { readonly kind: 'addresses'; readonly list: BlockList; readonly entries: readonly string[] };

export const TRUST_NOBODY: TrustProxy = Object.freeze({ kind: 'none' });

const MAX_HOPS = 32;
const MAPPED_IPV4 = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i;

/** An IP address in its plain form (`::ffff:1.2.3.4` is `1.2.3.4`), or null when it is not one. */
export function normaliseAddress(text: string): string | null {
  const mapped = MAPPED_IPV4.exec(text);
  const address = mapped ? mapped[1]! : text;
  const family = isIP(address);
  if (family === 0) return null;
  return family === 6 ? address.toLowerCase() : address;
}

/** Parses `TRUST_PROXY`: unset or empty for nobody, a hop count, or `address[/prefix]` entries separated by commas. */
export function parseTrustProxy(text: string | undefined): { ok: true; trust: TrustProxy } | { ok: false; error: string } {
  const value = text?.trim() ?? '';
  if (value === '') return { ok: true, trust: TRUST_NOBODY };
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops > MAX_HOPS) return { ok: false, error: `must be a hop count from 0 to ${MAX_HOPS}, got "${value}"` };
    return { ok: true, trust: hops === 0 ? TRUST_NOBODY : Object.freeze({ kind: 'hops', hops }) };
  }
  const list = new BlockList();
  const entries: string[] = [];
  for (const raw of value.split(',')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const [addressText, prefixText, ...rest] = entry.split('/');
    const address = normaliseAddress(addressText ?? '');
    const family = address === null ? 0 : isIP(address);
    const maxPrefix = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? maxPrefix : /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
    if (address === null || rest.length > 0 || !(prefix >= 0 && prefix <= maxPrefix)) {
      return {
        ok: false,
        error: `must be a hop count or a comma-separated list of proxy addresses or networks (e.g. 10.0.0.0/8, fd00::/8); "${entry}" is neither`,
      };
    }
    list.addSubnet(address, prefix, family === 4 ? 'ipv4' : 'ipv6');
    entries.push(`${address}/${prefix}`);
  }
  if (entries.length === 0) return { ok: true, trust: TRUST_NOBODY };
  return { ok: true, trust: Object.freeze({ kind: 'addresses', list, entries: Object.freeze(entries) }) };
}

function trusts(trust: TrustProxy, address: string, hop: number): boolean {
  switch (trust.kind) {
    case 'none':
      return false;
    case 'hops':
      return hop < trust.hops;
    case 'addresses':
      return trust.list.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
}

/** `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `"[::1]"`, `::1` → the address; anything else (`unknown`, `_hidden`) → null. */
function addressOfNode(node: string): string | null {
  const unquoted = node.trim().replace(/^"(.*)"$/, '$1');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(unquoted);
  if (bracketed) return normaliseAddress(bracketed[1]!);
  const withPort = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(unquoted);
  return normaliseAddress(withPort ? withPort[1]! : unquoted);
}

/** The `for=` nodes of an RFC 7239 `Forwarded` header, nearest client first. */
function forwardedFor(header: string): string[] {
  const nodes: string[] = [];
  // Elements are separated by commas and pairs by semicolons; quoted values may hold either.
  for (const element of header.match(/(?:[^,"]|"[^"]*")+/g) ?? []) {
    for (const pair of element.match(/(?:[^;"]|"[^"]*")+/g) ?? []) {
      const equals = pair.indexOf('=');
      if (equals > 0 && pair.slice(0, equals).trim().toLowerCase() === 'for') nodes.push(pair.slice(equals + 1));
    }
  }
  return nodes;
}

function joined(header: string | string[] | undefined): string | undefined {
  return Array.isArray(header) ? header.join(',') : header;
}

/**
 * Walks the chain right to left: from the peer, each trusted hop hands over to the address it
 * forwarded for. The client is the first address not trusted, or the furthest one the chain names;
 * a node that is not an address (`unknown`, an obfuscated name) ends the walk at the hop that sent it.
 */
function walk(peer: string, nodes: readonly string[], trust: TrustProxy): string {
  let client = peer;
  for (let hop = 0; hop < nodes.length && trusts(trust, client, hop); hop++) {
    const next = addressOfNode(nodes[nodes.length - 1 - hop]!);
    if (next === null) break;
    client = next;
  }
  return client;
}

/**
 * The client's address. Forwarding headers count only when the peer is a trusted proxy; when a
 * request carries both `Forwarded` and `X-Forwarded-For` and they name different clients, one was
 * written by somebody else than the proxy, so the request counts as coming from the proxy itself.
 */
export function clientAddress(
  peerAddress: string | undefined,
  headers: { readonly forwarded?: string | string[]; readonly 'x-forwarded-for'?: string | string[] },
  trust: TrustProxy,
): string {
  const peer = normaliseAddress(peerAddress ?? '') ?? peerAddress ?? 'unknown';
  if (trust.kind === 'none' || !trusts(trust, peer, 0)) return peer;
  const forwarded = joined(headers.forwarded);
  const xForwardedFor = joined(headers['x-forwarded-for']);
  const fromForwarded = forwarded === undefined ? undefined : walk(peer, forwardedFor(forwarded), trust);
  const fromXff = xForwardedFor === undefined ? undefined : walk(peer, xForwardedFor.split(','), trust);
  if (fromForwarded !== undefined && fromXff !== undefined && fromForwarded !== fromXff) return peer;
  return fromForwarded ?? fromXff ?? peer;
}
