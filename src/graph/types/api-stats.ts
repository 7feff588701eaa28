import type { CallLogRow } from '../../db/schema.ts';
import type { MethodStats, StatsPoint, StatsSnapshot, StatsWindow } from '../../domain/api-stats.ts';
import { outcomeOf, type CallOutcome } from '../../domain/call-log-store.ts';
import { RULE_NAMES } from '../../domain/call-limits.ts';
import { hasPermission } from '../../domain/principal.ts';
import { builder } from '../builder.ts';
import { callLimitKeyOf } from '../call-records.ts';
import { offsetConnection } from '../connections.ts';
import { pushIterator, watchAuthorization } from '../live-authorization.ts';
import { OrderDirection } from './common.ts';

const ApiStatsWindow = builder.enumType('ApiStatsWindow', {
  description: 'The span of a statistics snapshot.',
  values: {
    LAST_HOUR: { value: 'lastHour', description: '60 points of 1 minute, the current minute last.' },
    LAST_30_DAYS: { value: 'last30Days', description: '4,320 points of 10 minutes, the current ten minutes last.' },
  } as const,
});

const ApiStatsPoint = builder.objectRef<StatsPoint>('ApiStatsPoint').implement({
  description: 'The calls of one method in one bucket (or, as `total`, in the whole window).',
  fields: (t) => ({
    at: t.expose('at', { type: 'DateTime', description: 'Start of the bucket (of the window, for `total`).' }),
    calls: t.exposeInt('calls', { description: 'Accepted plus declined calls.' }),
    accepted: t.exposeInt('accepted', { description: 'Calls that ran (successes, errors and exceptions).' }),
    declined: t.exposeInt('declined', { description: 'Calls a limit refused before they ran.' }),
    errors: t.exposeInt('errors', { description: 'Accepted calls that failed, exceptions included.' }),
    exceptions: t.exposeInt('exceptions', { description: 'Accepted calls that failed with an internal error.' }),
    avgMs: t.float({ nullable: true, description: 'Mean duration of accepted calls, ms; null when none.', resolve: (p) => p.avgMs }),
    p50: t.float({ nullable: true, description: 'Median duration of accepted calls, ms (within 3.125 %); null when none.', resolve: (p) => p.p50 }),
    p95: t.float({ nullable: true, description: '95th percentile duration, ms (within 3.125 %); null when none.', resolve: (p) => p.p95 }),
    p99: t.float({ nullable: true, description: '99th percentile duration, ms (within 3.125 %); null when none.', resolve: (p) => p.p99 }),
    declinedBy: t.field({
      type: [ApiDeclinedCount],
      description: 'Declined calls by the rule that refused them.',
      resolve: (p) => [...p.declinedBy].map(([rule, count]) => ({ rule, count })),
    }),
  }),
});

const ApiDeclinedCount = builder.objectRef<{ rule: string; count: number }>('ApiDeclinedCount').implement({
  description: 'How many calls one rule declined.',
  fields: (t) => ({
    rule: t.exposeString('rule', { description: `The rule that refused them: ${RULE_NAMES.map((name) => `\`${name}\``).join(', ')} (see the README, "Limits").` }),
    count: t.exposeInt('count', { description: 'Calls it declined.' }),
  }),
});

const ApiMethodStats = builder.objectRef<MethodStats>('ApiMethodStats').implement({
  description: 'The statistics of one method (v1 id, or `graphql/<query|mutation|subscription>/<field>`).',
  fields: (t) => ({
    methodId: t.exposeString('methodId', { description: 'The method id.' }),
    total: t.field({ type: ApiStatsPoint, description: 'The whole window merged.', resolve: (m) => m.total }),
    points: t.field({ type: [ApiStatsPoint], description: 'Every bucket of the window, oldest first, gaps filled with zeros.', resolve: (m) => [...m.points] }),
    concurrentLimit: t.int({
      nullable: true,
      description: 'Calls of the method allowed in flight at once on one node (its `concurrent` limit now); null for no cap.',
      resolve: (m, _args, context) => context.domain.callLimits.rulesFor(callLimitKeyOf(m.methodId)).concurrent,
    }),
    concurrentPerCallerLimit: t.int({
      nullable: true,
      description: 'Calls of the method one caller may have in flight on one node (its `concurrentPerCaller` limit now); null for no cap.',
      resolve: (m, _args, context) => context.domain.callLimits.rulesFor(callLimitKeyOf(m.methodId)).concurrentPerCaller,
    }),
    inFlight: t.int({
      description: 'Calls of the method in flight on the node that answers, now.',
      resolve: (m, _args, context) => context.domain.callLimits.inFlight(callLimitKeyOf(m.methodId)),
    }),
  }),
});

const ApiStatsSnapshot = builder.objectRef<StatsSnapshot>('ApiStatsSnapshot').implement({
  description: 'API call statistics of one window, the same on every node.',
  fields: (t) => ({
    window: t.field({ type: ApiStatsWindow, description: 'The window.', resolve: (s) => s.window }),
    bucketSeconds: t.exposeInt('bucketSeconds', { description: 'The size of one point: 60 or 600.' }),
    lastUpdated: t.expose('lastUpdated', { type: 'DateTime', description: 'When the figures were read from the statistics store.' }),
    methods: t.field({
      type: [ApiMethodStats],
      description: 'Methods with calls in the window, sorted by id, plus those named in `methodIds` (only those, when given).',
      resolve: (s) => [...s.methods],
    }),
  }),
});

const ApiCallOutcome = builder.enumType('ApiCallOutcome', {
  description: 'How a call ended.',
  values: {
    OK: { value: 'ok', description: 'It succeeded.' },
    ERROR: { value: 'error', description: 'It ran and failed (not an exception).' },
    EXCEPTION: { value: 'exception', description: 'It ran and failed with an internal error.' },
    DECLINED: { value: 'declined', description: 'A limit refused it before it ran.' },
  } as const,
});

const ApiCall = builder.objectRef<CallLogRow>('ApiCall').implement({
  description: 'One recorded call.',
  fields: (t) => ({
    id: t.id({ description: 'The row id.', resolve: (row) => String(row.id) }),
    methodId: t.exposeString('methodId', { description: 'The v1 method id, or `graphql/<query|mutation|subscription>/<field>`.' }),
    userId: t.id({ nullable: true, description: 'The caller; null for guests and for users deleted since.', resolve: (row) => row.userId }),
    credentialId: t.id({ nullable: true, description: 'The session or API token the call came with.', resolve: (row) => row.credentialId }),
    credentialKind: t.string({ nullable: true, description: '`session` or `apiToken`.', resolve: (row) => row.credentialKind }),
    clientAddress: t.string({ nullable: true, description: "The client's address.", resolve: (row) => row.clientAddress }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: 'When the call started.' }),
    durationMs: t.exposeFloat('durationMs', { description: 'How long it ran, ms (0 when declined).' }),
    status: t.exposeInt('status', { description: 'The v1 status (HTTP-like or a negative JSON-RPC code); GraphQL: 200 or the error status.' }),
    statusText: t.exposeString('statusText', { description: 'The status text, or the error message.' }),
    outcome: t.field({ type: ApiCallOutcome, description: 'How it ended.', resolve: (row) => outcomeOf(row) }),
    declinedBy: t.string({ nullable: true, description: 'The rule that declined it.', resolve: (row) => row.declinedBy }),
  }),
});

const ApiCallFilter = builder.inputType('ApiCallFilter', {
  description: 'Which calls to list; every given condition must hold.',
  fields: (t) => ({
    methodId: t.string({ description: 'Only this method.' }),
    userId: t.id({ description: 'Only calls of this user.' }),
    outcome: t.field({ type: ApiCallOutcome, description: 'Only calls that ended so.' }),
    from: t.field({ type: 'DateTime', description: 'Calls started at or after.' }),
    to: t.field({ type: 'DateTime', description: 'Calls started before.' }),
  }),
});

builder.queryFields((t) => ({
  apiStats: t.field({
    type: ApiStatsSnapshot,
    description: 'API call statistics of a window (computed at most every 10 s for the last hour, 60 s for 30 days). Admins only.',
    authScopes: { permission: 'admin' },
    args: {
      methodIds: t.arg.stringList({ description: 'Only these methods (each one listed, with empty series when it had no calls).' }),
      window: t.arg({ type: ApiStatsWindow, required: true, defaultValue: 'lastHour', description: 'The window.' }),
    },
    resolve: (_root, args, context) => context.domain.callLog.stats.snapshot(args.window as StatsWindow, args.methodIds),
  }),
  apiCallLog: t.connection(
    {
      type: ApiCall,
      description: 'The recorded calls, newest first unless ordered otherwise. Admins only.',
      authScopes: { permission: 'admin' },
      args: {
        filter: t.arg({ type: ApiCallFilter }),
        offset: t.arg.int({ description: 'Skip this many calls (after `after`, when given).' }),
        order: t.arg({ type: OrderDirection, defaultValue: 'desc', description: 'By start time: DESC (newest first, the default) or ASC.' }),
      },
      resolve: (_root, args, context) => {
        const given = args.filter;
        const filter = {
          methodId: given?.methodId,
          userId: given?.userId?.toString(),
          outcome: given?.outcome as CallOutcome | null | undefined,
          from: given?.from,
          to: given?.to,
        };
        return offsetConnection(args, {
          count: () => context.domain.callLog.count(filter),
          page: (offset, limit) => context.domain.callLog.list(filter, { offset, limit }, args.order ?? 'desc'),
        });
      },
    },
    { name: 'ApiCallConnection' },
    { name: 'ApiCallEdge' },
  ),
}));

builder.subscriptionField('apiStats', (t) =>
  t.field({
    type: ApiStatsSnapshot,
    description:
      'The `apiStats` snapshot at once, then a fresh one every 10 s (60 s for LAST_30_DAYS). Admins only, for as long as it runs: ' +
      'it ends within a second of the subscriber losing the admin permission or its credential, on any node.',
    authScopes: { permission: 'admin' },
    args: {
      methodIds: t.arg.stringList({ description: 'Only these methods (each one listed, with empty series when it had no calls).' }),
      window: t.arg({ type: ApiStatsWindow, required: true, defaultValue: 'lastHour', description: 'The window.' }),
      count: t.arg.int({ required: false, description: 'End after this many snapshots.' }),
    },
    subscribe: (_root, args, context) =>
      pushIterator<StatsSnapshot>((push, end) => {
        let left = args.count ?? Number.POSITIVE_INFINITY;
        const unsubscribe = context.domain.callLog.stats.subscribe(args.window as StatsWindow, args.methodIds, (snapshot) => {
          push(snapshot);
          if (--left <= 0) end();
        });
        const unwatch = watchAuthorization(context, (principal) => hasPermission(principal, 'admin'), end);
        return () => {
          unsubscribe();
          unwatch();
        };
      }),
    resolve: (snapshot) => snapshot,
  }),
);
