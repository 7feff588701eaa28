import { apiReadSchema, parseApiRead, readResult, type ApiReadSpec } from '../api-read.ts';
import { graphql, readFragment, type ResultOf } from '../graphql.ts';
import { v1Method, type V1Method } from '../method.ts';
import { ok } from '../result.ts';

/** protocol.md §4.1: `where.method_id` (=, optional per decisions.md), sorted by `started` (newest first by default). */
const READ_LOG_SPEC: ApiReadSpec = {
  fields: {
    method_id: { type: 'string', conditions: ['='], required: true },
    started: { sortable: true },
  },
  defaultOrder: [['started', 'desc']],
  byId: false,
};

const ReadLog = graphql(`
  query ApiCallLogRead($first: Int, $offset: Int, $filter: ApiCallFilter, $order: OrderDirection) {
    apiCallLog(first: $first, offset: $offset, filter: $filter, order: $order) {
      totalCount
      edges { node { id methodId userId credentialKind credentialId clientAddress startedAt durationMs status statusText outcome declinedBy } }
    }
  }
`);

type Call = ResultOf<typeof ReadLog>['apiCallLog']['edges'][number]['node'];

/** A call-log row as v1 shows it (protocol.md §4.1), plus its outcome and the rule that declined it. */
function toV1Row(call: Call) {
  const started = Date.parse(call.startedAt);
  return {
    id: call.id,
    method_id: call.methodId,
    user_id: call.userId,
    started: call.startedAt,
    finished: new Date(started + Math.round(call.durationMs)).toISOString(),
    runtime: Math.round(call.durationMs),
    duration_ms: call.durationMs,
    is_error: call.outcome !== 'OK',
    is_exception: call.outcome === 'EXCEPTION',
    is_declined: call.outcome === 'DECLINED',
    declined_by: call.declinedBy,
    status: call.status,
    status_text: call.statusText,
    client_address: call.clientAddress,
  };
}

const StatsFields = graphql(`
  fragment ApiStatsFields on ApiStatsSnapshot {
    lastUpdated
    methods {
      methodId
      concurrentLimit
      concurrentPerCallerLimit
      inFlight
      points { at calls accepted declined errors exceptions avgMs p50 p95 p99 }
    }
  }
`);

const LatestStats = graphql(
  `query ApiStatsLatest($methodIds: [String!]) { apiStats(methodIds: $methodIds, window: LAST_HOUR) { ...ApiStatsFields } }`,
  [StatsFields],
);
const HistoryStats = graphql(
  `query ApiStatsHistory($methodIds: [String!]) { apiStats(methodIds: $methodIds, window: LAST_30_DAYS) { ...ApiStatsFields } }`,
  [StatsFields],
);

type Snapshot = ResultOf<typeof StatsFields>;

const round2 = (value: number) => Math.round(value * 100) / 100;

/** `{id, last_updated, load, requests}` (protocol.md §4.1) with calls, errors and percentiles (ms) added per point. */
function toV1Stats(method: Snapshot['methods'][number], lastUpdated: string) {
  return {
    id: method.methodId,
    last_updated: lastUpdated,
    load: method.points.map((p) => ({ date: p.at, total_accepted: p.accepted, total_declined: p.declined, calls: p.calls })),
    requests: method.points.map((p) => ({
      date: p.at,
      exceptions_percent: p.accepted > 0 ? round2((p.exceptions / p.accepted) * 100) : null,
      avg_runtime: p.avgMs === null ? null : round2(p.avgMs / 1000),
      calls: p.calls,
      errors: p.errors,
      p50: p.p50,
      p95: p.p95,
      p99: p.p99,
    })),
  };
}

const methodIdParam = (required: boolean) =>
  ({ name: 'method_id', required, schema: { type: 'string' }, description: 'A v1 method id (`/v1/test/test`) or `graphql/<query|mutation|subscription>/<field>`.' }) as const;

export const adminApiCallLogMethods: V1Method[] = [
  v1Method({
    id: '/v1/admin/api-call-log/read-log',
    permission: 'admin',
    title: 'Read API call log',
    params: [{ name: 'options', required: false, schema: apiReadSchema(READ_LOG_SPEC) }],
    document: ReadLog,
    plan: ([options]) => {
      const query = parseApiRead(options, READ_LOG_SPEC);
      const methodId = query.where.method_id?.value as string | undefined;
      const direction = query.order[0]?.[1] ?? 'desc';
      return {
        variables: {
          first: query.limit,
          offset: query.offset,
          filter: methodId ? { methodId } : null,
          order: direction === 'asc' ? ('ASC' as const) : ('DESC' as const),
        },
      };
    },
    result: ({ apiCallLog }) => {
      const { data, meta } = readResult(apiCallLog.edges.map(({ node }) => toV1Row(node)), apiCallLog.totalCount);
      return ok(data, meta);
    },
  }),
  v1Method({
    id: '/v1/admin/api-call-log/read-latest-stat',
    permission: 'admin',
    title: 'Read latest API usage statistics',
    params: [methodIdParam(false)],
    document: LatestStats,
    plan: ([methodId]) => ({ variables: { methodIds: typeof methodId === 'string' ? [methodId] : null } }),
    result: ({ apiStats }, _call, plan) => {
      const snapshot = readFragment(StatsFields, apiStats);
      if (plan.variables.methodIds) return ok(toV1Stats(snapshot.methods[0]!, snapshot.lastUpdated));
      // The concurrency limits in force and the calls in flight are those of the node that answers.
      return ok(
        snapshot.methods.map((method) => ({
          ...toV1Stats(method, snapshot.lastUpdated),
          active_requests_limit: method.concurrentLimit,
          active_requests_user_limit: method.concurrentPerCallerLimit,
          total_active_requests: method.inFlight,
        })),
      );
    },
  }),
  v1Method({
    id: '/v1/admin/api-call-log/read-history-stat',
    permission: 'admin',
    title: 'Read historical API usage statistics',
    params: [methodIdParam(true)],
    document: HistoryStats,
    plan: ([methodId]) => ({ variables: { methodIds: [methodId as string] } }),
    result: ({ apiStats }) => {
      const snapshot = readFragment(StatsFields, apiStats);
      return ok(toV1Stats(snapshot.methods[0]!, snapshot.lastUpdated));
    },
  }),
];
