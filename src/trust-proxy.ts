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
