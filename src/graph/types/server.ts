import { setTimeout as sleep } from 'node:timers/promises';
import { builder } from '../builder.ts';

builder.queryField('serverTime', (t) =>
  t.field({
    type: 'DateTime',
    description: "The gateway's current time.",
    authScopes: { public: true },
    resolve: () => new Date(),
  }),
);

const Tick = builder.objectRef<{ sequence: number; at: Date }>('Tick').implement({
  description: 'One beat of the `ticks` subscription.',
  fields: (t) => ({
    sequence: t.exposeInt('sequence', { description: 'Counts from 1 for each subscription.' }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

builder.subscriptionField('ticks', (t) =>
  t.field({
    type: Tick,
    description: 'The server time at a fixed interval; ends after `count` ticks when given.',
    authScopes: { public: true },
    args: {
      intervalMs: t.arg.int({ defaultValue: 1000, description: 'From 10 to 60000 milliseconds.' }),
      count: t.arg.int({ required: false, description: 'Stop after this many ticks.' }),
    },
    subscribe: (_root, { intervalMs, count }) =>
      ticks(Math.min(Math.max(intervalMs ?? 1000, 10), 60_000), count ?? Number.POSITIVE_INFINITY),
    resolve: (tick) => tick,
  }),
);

type TickValue = { sequence: number; at: Date };

/** An iterator whose `return()` ends a pending wait at once, so unsubscribing never lingers. */
function ticks(intervalMs: number, count: number): AsyncIterableIterator<TickValue> {
  const stop = new AbortController();
  const done = { done: true, value: undefined } as const;
  let sequence = 0;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (sequence >= count || stop.signal.aborted) return done;
      try {
        await sleep(intervalMs, undefined, { signal: stop.signal });
      } catch {
        return done;
      }
      return { done: false, value: { sequence: ++sequence, at: new Date() } };
    },
    async return() {
      stop.abort();
      return done;
    },
  };
}
