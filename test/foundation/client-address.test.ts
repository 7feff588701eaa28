import { describe, expect, it } from 'vitest';
import { clientAddress } from '../../src/http/client-address.ts';
import { normaliseAddress, parseTrustProxy, type TrustProxy } from '../../src/trust-proxy.ts';

function trust(value: string): TrustProxy {
  const parsed = parseTrustProxy(value);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.trust;
}

const NOBODY = trust('');
const ONE_HOP = trust('1');
const TWO_HOPS = trust('2');
const PRIVATE = trust('10.0.0.0/8, fd00::/8');

describe('client address', () => {
  it('is the peer when no proxy is trusted, whatever the headers say', () => {
    const headers = { 'x-forwarded-for': '203.0.113.9', forwarded: 'for=203.0.113.9' };
    expect(clientAddress('198.51.100.4', headers, NOBODY)).toBe('198.51.100.4');
    expect(clientAddress('::ffff:198.51.100.4', {}, NOBODY)).toBe('198.51.100.4');
    expect(clientAddress('2001:DB8::5', {}, NOBODY)).toBe('2001:db8::5');
    expect(clientAddress(undefined, {}, NOBODY)).toBe('unknown');
  });

  it('ignores forwarding headers from a peer that is not a trusted proxy', () => {
    expect(clientAddress('198.51.100.4', { 'x-forwarded-for': '203.0.113.9' }, PRIVATE)).toBe('198.51.100.4');
    expect(clientAddress('198.51.100.4', { forwarded: 'for=203.0.113.9' }, PRIVATE)).toBe('198.51.100.4');
  });

  it('walks X-Forwarded-For right to left through trusted proxies', () => {
    // The client wrote the first entry itself; only the entries the proxies appended count.
    const headers = { 'x-forwarded-for': '6.6.6.6, 203.0.113.9, 10.1.1.1' };
    expect(clientAddress('10.0.0.2', headers, PRIVATE)).toBe('203.0.113.9');
    expect(clientAddress('::ffff:10.0.0.2', headers, PRIVATE)).toBe('203.0.113.9');
    expect(clientAddress('10.0.0.2', headers, ONE_HOP)).toBe('10.1.1.1');
    expect(clientAddress('10.0.0.2', headers, TWO_HOPS)).toBe('203.0.113.9');
    // A chain shorter than the hop count names its furthest address.
    expect(clientAddress('10.0.0.2', { 'x-forwarded-for': '203.0.113.9' }, TWO_HOPS)).toBe('203.0.113.9');
    // Several header lines are one list.
    expect(clientAddress('10.0.0.2', { 'x-forwarded-for': ['6.6.6.6', '203.0.113.9'] }, ONE_HOP)).toBe('203.0.113.9');
    // Every hop trusted: the furthest address.
    expect(clientAddress('10.0.0.2', { 'x-forwarded-for': '10.9.9.9, 10.1.1.1' }, PRIVATE)).toBe('10.9.9.9');
  });

  it('reads RFC 7239 Forwarded: quoted IPv6 with ports, several elements, other parameters', () => {
    const forwarded = 'for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https;by=10.0.0.2, For=10.1.1.1';
    expect(clientAddress('10.0.0.2', { forwarded }, PRIVATE)).toBe('2001:db8:cafe::17');
    expect(clientAddress('10.0.0.2', { forwarded: 'for=192.0.2.60;proto=http;by=203.0.113.43' }, ONE_HOP)).toBe('192.0.2.60');
    expect(clientAddress('10.0.0.2', { forwarded: 'proto=https;for="192.0.2.60:8080"' }, ONE_HOP)).toBe('192.0.2.60');
  });

  it('stops at the hop that forwarded for something that is not an address', () => {
    expect(clientAddress('10.0.0.2', { forwarded: 'for=unknown' }, PRIVATE)).toBe('10.0.0.2');
    expect(clientAddress('10.0.0.2', { forwarded: 'for=_hidden, for=10.1.1.1' }, PRIVATE)).toBe('10.1.1.1');
    expect(clientAddress('10.0.0.2', { 'x-forwarded-for': 'garbage, 10.1.1.1' }, PRIVATE)).toBe('10.1.1.1');
    expect(clientAddress('10.0.0.2', { 'x-forwarded-for': '' }, ONE_HOP)).toBe('10.0.0.2');
  });

  it('counts a request whose two headers name different clients as the proxy’s own', () => {
    const agreeing = { forwarded: 'for=203.0.113.9', 'x-forwarded-for': '203.0.113.9' };
    expect(clientAddress('10.0.0.2', agreeing, ONE_HOP)).toBe('203.0.113.9');
    const spoofed = { forwarded: 'for=6.6.6.6', 'x-forwarded-for': '203.0.113.9' };
    expect(clientAddress('10.0.0.2', spoofed, ONE_HOP)).toBe('10.0.0.2');
  });

  it('normalises addresses and refuses what is not one', () => {
    expect(normaliseAddress('::ffff:1.2.3.4')).toBe('1.2.3.4');
    expect(normaliseAddress('::FFFF:1.2.3.4')).toBe('1.2.3.4');
    expect(normaliseAddress('FD00::1')).toBe('fd00::1');
    expect(normaliseAddress('1.2.3.4:80')).toBeNull();
    expect(normaliseAddress('example.com')).toBeNull();
  });
});
