import Fastify from 'fastify';
import mercurius, { type MercuriusContext } from 'mercurius';

/**
 * The GraphQL baseline: Fastify + Mercurius with graphql-jit (compiled after the first run of a
 * query), on a minimal schema. `viewer` reads the Authorization header, the cheapest stand-in for
 * an authenticated query: what a GraphQL server costs before any real authentication work.
 */
const schema = `
  type User { id: ID! name: String! }
  type Viewer { user: User! permissions: [String!]! }
  type Query { viewer: Viewer }
`;

const VIEWER = { user: { id: '1', name: 'root' }, permissions: ['admin'] };

const resolvers = {
  Query: {
    viewer: (_root: unknown, _args: unknown, context: MercuriusContext) =>
      context.reply.request.headers.authorization?.startsWith('Bearer ') ? VIEWER : null,
  },
};

const app = Fastify({ logger: false });
await app.register(mercurius, { schema, resolvers, jit: 1 });
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address() as { port: number };
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
