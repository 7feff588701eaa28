import { isIP } from 'node:net';
import { normaliseAddress, type TrustProxy } from '../trust-proxy.ts';

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
