import type { Counters } from '../kv/counters.ts';
import type { ClientInfo } from './client-info.ts';
import type { Principal } from './principal.ts';

/** At most `max` calls in any `windowSeconds` (a sliding window). */
export interface Rate {
  readonly max: number;
  readonly windowSeconds: number;
}

/**
 * The limits of one v1 method or GraphQL root field. Rates are shared by every node (kv counters);
 * concurrency caps count the calls running on this node. `null` switches a rule off.
 */
export interface CallLimitRules {
  /** Calls per client address, for guests (signed-in callers are counted per account and token). */
  readonly perAddress?: Rate | null;
  /** Calls per signed-in user (sessions and API tokens alike). */
  readonly perAccount?: Rate | null;
  /** Calls per API token. */
  readonly perToken?: Rate | null;
  /** Calls of this method running at once on a node, whoever makes them. */
  readonly concurrent?: number | null;
  /** Calls of this method one caller (a user, or a guest's address) has running at once on a node. */
  readonly concurrentPerCaller?: number | null;
}

export type RuleName = keyof CallLimitRules;
export const RULE_NAMES: readonly RuleName[] = ['perAddress', 'perAccount', 'perToken', 'concurrent', 'concurrentPerCaller'];
const RATE_RULES = ['perAddress', 'perAccount', 'perToken'] as const;

/** What every method and field gets unless declared otherwise: generous, a ceiling only runaway clients reach. */
export const DEFAULT_CALL_LIMITS: Required<CallLimitRules> = Object.freeze({
  perAddress: { max: 30_000, windowSeconds: 60 },
  perAccount: { max: 60_000, windowSeconds: 60 },
  perToken: { max: 60_000, windowSeconds: 60 },
  concurrent: 1024,
  concurrentPerCaller: 64,
});

/**
 * Sign-in and sign-up: a guest's ceiling of attempts per address, on top of the layered sign-in
 * limits (settings `signin*`), which judge failures. 600 a minute lets 200 colleagues behind one
 * NAT sign in within the same minute.
 */
const SIGN_IN: CallLimitRules = { perAddress: { max: 600, windowSeconds: 60 } };

/**
 * Methods that send e-mail: each call can reach somebody's mailbox. The e-mail limits of the
 * settings (`email*`) judge first and answer as if sent, so a limited caller learns nothing about
 * accounts; this ceiling, well above them, refuses only floods (-32802).
 */
const SENDS_EMAIL: CallLimitRules = {
  perAddress: { max: 120, windowSeconds: 600 },
  perAccount: { max: 120, windowSeconds: 600 },
  concurrentPerCaller: 8,
};

/**
 * The declared limits, by v1 method id and by GraphQL root field name (both transports of one
 * operation get the same rules). What is not listed gets `DEFAULT_CALL_LIMITS`. Admins override
 * any entry, or the defaults (`*`), with the `callLimits` setting.
 */
export const DECLARED_CALL_LIMITS: Readonly<Record<string, CallLimitRules>> = Object.freeze({
  '/v1/session/signin': SIGN_IN,
  signIn: SIGN_IN,
  '/v1/session/signup': SIGN_IN,
  signUp: SIGN_IN,
  '/v1/session/send-confirmation-email': SENDS_EMAIL,
  sendConfirmationEmail: SENDS_EMAIL,
  '/v1/session/send-password-reset-email': SENDS_EMAIL,
  sendPasswordResetEmail: SENDS_EMAIL,
  '/v1/admin/settings/test-smtp': SENDS_EMAIL,
  testSmtp: SENDS_EMAIL,
});

/** The `callLimits` setting: per key (a method id, a root field, or `*` for the defaults), the rules to change. */
export type CallLimitOverrides = Readonly<Record<string, CallLimitRules>>;

const MAX_RATE = 10_000_000;
const MAX_WINDOW_SECONDS = 86_400;
const MAX_CONCURRENCY = 100_000;

/** What is wrong with a `callLimits` value, or null when it is valid. */
export function callLimitOverridesProblem(value: unknown): string | null {
  if (!isObject(value)) return 'must be an object of limits by method id, field name or "*"';
  const keys = Object.keys(value);
  if (keys.length > 500) return 'must name at most 500 methods';
  for (const key of keys) {
    if (key.length === 0 || key.length > 200) return `has a key of ${key.length} characters`;
    const rules = value[key];
    if (!isObject(rules)) return `"${key}" must be an object of rules (${RULE_NAMES.join(', ')})`;
    for (const [rule, setting] of Object.entries(rules)) {
      if (!RULE_NAMES.includes(rule as RuleName)) return `"${key}" has an unknown rule "${rule}" (known: ${RULE_NAMES.join(', ')})`;
      if (setting === null) continue;
      if ((RATE_RULES as readonly string[]).includes(rule)) {
        if (!isObject(setting) || Object.keys(setting).some((name) => name !== 'max' && name !== 'windowSeconds')) {
          return `"${key}".${rule} must be null or { max, windowSeconds }`;
        }
        if (!isInteger(setting.max, 1, MAX_RATE)) return `"${key}".${rule}.max must be an integer from 1 to ${MAX_RATE}`;
        if (!isInteger(setting.windowSeconds, 1, MAX_WINDOW_SECONDS)) {
          return `"${key}".${rule}.windowSeconds must be an integer from 1 to ${MAX_WINDOW_SECONDS}`;
        }
      } else if (!isInteger(setting, 1, MAX_CONCURRENCY)) {
        return `"${key}".${rule} must be null or an integer from 1 to ${MAX_CONCURRENCY}`;
      }
    }
  }
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isInteger(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/** The rules in force for `key`: defaults, then `*` overrides, then its declaration, then its own overrides. */
export function effectiveRules(key: string, overrides: CallLimitOverrides): Required<CallLimitRules> {
  return { ...DEFAULT_CALL_LIMITS, ...overrides['*'], ...DECLARED_CALL_LIMITS[key], ...overrides[key] } as Required<CallLimitRules>;
}

/** A refused call: which rule of which method refused it, and when to try again. */
export interface Refusal {
  readonly ok: false;
  /** The method id or root field. */
  readonly key: string;
  readonly rule: RuleName;
  readonly retryAfterMs: number;
}

/** An admitted call; `release` once it has finished (the concurrency caps count it until then). */
export interface Admission {
  readonly ok: true;
  release(): void;
}

/** Told of every refused call, with its rule: the statistics count it as declined. */
export type DeclinedListener = (key: string, rule: RuleName) => void;

const NOTHING_TO_RELEASE: Admission = Object.freeze({ ok: true, release() {} });
/** A refused concurrency cap asks for a short wait: a running call is likely to finish by then. */
const CONCURRENCY_RETRY_MS = 1000;

/**
 * The per-method limits of every call, whatever the transport. Rates use a sliding window over two
 * fixed windows of the shared counters (the previous window's count weighed by how much of it is
 * still inside the sliding one, as Cloudflare does); a call is counted before it is judged, and a
 * refused one is given back. While Redis is away the counters fall back to this node's memory (see
 * `RedisCounters`), so limits hold per node instead of failing calls. Concurrency is counted on
 * this node only: a crashed node leaves no slot taken on the others.
 */
export class CallLimits {
  readonly #counters: Counters;
  readonly #overrides: () => CallLimitOverrides;
  readonly #running = new Map<string, number>();
  readonly #declined = new Set<DeclinedListener>();
  #cache = new Map<string, Required<CallLimitRules>>();
  #cachedFrom: CallLimitOverrides | undefined;

  /** `overrides` is read per call (the live `callLimits` setting); it must be cheap. */
  constructor(counters: Counters, overrides: () => CallLimitOverrides) {
    this.#counters = counters;
    this.#overrides = overrides;
  }

  /** Adds a listener told of every refusal (the call log's recorder); returns how to remove it. */
  onDeclined(listener: DeclinedListener): () => void {
    this.#declined.add(listener);
    return () => this.#declined.delete(listener);
  }

  rulesFor(key: string): Required<CallLimitRules> {
    const overrides = this.#overrides();
    if (overrides !== this.#cachedFrom) {
      this.#cache = new Map();
      this.#cachedFrom = overrides;
    }
    let rules = this.#cache.get(key);
    if (!rules) this.#cache.set(key, (rules = effectiveRules(key, overrides)));
    return rules;
  }

  /** Calls of `key` in flight on this node (those the concurrency rules count). */
  inFlight(key: string): number {
    return this.#running.get(key) ?? 0;
  }

  /** Judges one call of `key` (a v1 method id or a GraphQL root field) by `principal` from `client`. */
  async admit(key: string, principal: Principal, client: ClientInfo): Promise<Admission | Refusal> {
    const rules = this.rulesFor(key);
    const caller = principal.kind === 'guest' ? `ip:${client.address}` : `user:${principal.user.id}`;
    const concurrency = this.#enter(key, caller, rules);
    if (!concurrency.ok) return concurrency;
    try {
      if (principal.kind === 'guest') {
        const refused = await this.#rate(key, 'perAddress', rules.perAddress, client.address);
        if (refused) return this.#refuse(refused, concurrency);
      } else {
        const refused =
          (await this.#rate(key, 'perAccount', rules.perAccount, principal.user.id)) ??
          (principal.kind === 'apiToken' ? await this.#rate(key, 'perToken', rules.perToken, principal.tokenId) : undefined);
        if (refused) return this.#refuse(refused, concurrency);
      }
    } catch (error) {
      concurrency.release();
      throw error;
    }
    return concurrency;
  }

  /** Judges several keys at once (the root fields of one GraphQL operation): all are admitted, or none. */
  async admitAll(keys: readonly string[], principal: Principal, client: ClientInfo): Promise<Admission | Refusal> {
    if (keys.length === 1) return this.admit(keys[0]!, principal, client);
    const admitted: Admission[] = [];
    for (const key of keys) {
      const answer = await this.admit(key, principal, client);
      if (!answer.ok) {
        for (const admission of admitted) admission.release();
        return answer;
      }
      admitted.push(answer);
    }
    return { ok: true, release: () => admitted.forEach((admission) => admission.release()) };
  }

  #enter(key: string, caller: string, rules: Required<CallLimitRules>): Admission | Refusal {
    const { concurrent, concurrentPerCaller } = rules;
    if (concurrent === null && concurrentPerCaller === null) return NOTHING_TO_RELEASE;
    const mine = `${key}\u0000${caller}`;
    const running = this.#running;
    if (concurrent !== null && (running.get(key) ?? 0) >= concurrent) return this.declined(key, 'concurrent', CONCURRENCY_RETRY_MS);
    if (concurrentPerCaller !== null && (running.get(mine) ?? 0) >= concurrentPerCaller) {
      return this.declined(key, 'concurrentPerCaller', CONCURRENCY_RETRY_MS);
    }
    running.set(key, (running.get(key) ?? 0) + 1);
    running.set(mine, (running.get(mine) ?? 0) + 1);
    let released = false;
    return {
      ok: true,
      release() {
        if (released) return;
        released = true;
        for (const name of [key, mine]) {
          const left = running.get(name)! - 1;
          if (left === 0) running.delete(name);
          else running.set(name, left);
        }
      },
    };
  }

  /** Counts the call in the sliding window of `rule`; the refusal when it is over. */
  async #rate(key: string, rule: RuleName, rate: Rate | null, subject: string): Promise<Refusal | undefined> {
    if (rate === null) return undefined;
    const windowMs = rate.windowSeconds * 1000;
    const now = Date.now();
    const index = Math.floor(now / windowMs);
    const elapsed = (now - index * windowMs) / windowMs;
    const base = `call:${key}:${rule}:${rate.windowSeconds}:${subject}:`;
    const currentKey = base + index;
    // Both windows in one round trip (ioredis pipelines commands sent together).
    const [current, previous] = await Promise.all([
      this.#counters.increment(currentKey, 2 * windowMs),
      this.#counters.peek(base + (index - 1)),
    ]);
    const before = previous?.count ?? 0;
    const estimate = before * (1 - elapsed) + current.count;
    if (estimate <= rate.max) return undefined;
    await this.#counters.decrement(currentKey);
    // When the estimate, without this call, falls under the limit: the previous window's weight
    // shrinks as the sliding window moves on; past the current window's end only its count is left.
    const counted = current.count - 1;
    let waitMs: number;
    if (counted >= rate.max) waitMs = (1 - elapsed) * windowMs + 1;
    else waitMs = Math.max(1, (1 - (rate.max - 1 - counted) / Math.max(before, 1) - elapsed) * windowMs);
    return this.declined(key, rule, Math.ceil(Math.min(waitMs, 2 * windowMs)));
  }

  #refuse(refusal: Refusal, concurrency: Admission): Refusal {
    concurrency.release();
    return refusal;
  }

  /**
   * The one place a call is refused by a limit: every refusal, of every transport, is made here,
   * naming its rule, and every `onDeclined` listener hears of it.
   */
  declined(key: string, rule: RuleName, retryAfterMs: number): Refusal {
    // The call log's recorder counts the call as declined with its rule: it subscribes through
    // `onDeclined` (see the README, "Limits"), so this stays the single call site.
    for (const listener of this.#declined) listener(key, rule);
    return { ok: false, key, rule, retryAfterMs };
  }
}
