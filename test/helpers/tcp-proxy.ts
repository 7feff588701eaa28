import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a real service, so a test can take the service "away" from a gateway
 * (and give it back) without touching the service other tests use.
 */
export class TcpProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: net.Server | undefined;
  #port = 0;
  #stalled = false;
  /** Connections accepted since the proxy was made. */
  accepted = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  get port(): number {
    return this.#port;
  }

  get listening(): boolean {
    return this.#server !== undefined;
  }

  /** Starts listening (on the same port as before when restarted). */
  async start(): Promise<void> {
    const server = net.createServer((client) => {
      this.accepted++;
      if (this.#stalled) {
        // A host that takes the connection and never answers: nothing is forwarded either way.
        this.#sockets.add(client);
        client.on('close', () => this.#sockets.delete(client));
        client.on('error', () => client.destroy());
        client.resume();
        return;
      }
      const upstream = net.connect(this.#target.port, this.#target.host);
      for (const socket of [client, upstream]) {
        this.#sockets.add(socket);
        socket.on('close', () => this.#sockets.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    server.listen(this.#port, '127.0.0.1');
    await once(server, 'listening');
    this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Cuts the open connections; new ones are accepted and then left without an answer, until `unstall`. */
  stall(): void {
    this.#stalled = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  unstall(): void {
    this.#stalled = false;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** Refuses new connections and cuts the open ones. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** `url` with its host and port replaced by this proxy's. */
  rewrite(url: string): string {
    const parsed = new URL(url);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.#port);
    return parsed.toString();
  }
}
