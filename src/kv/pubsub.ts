export type MessageListener = (message: unknown) => void;
export type Unsubscribe = () => Promise<void>;

/**
 * Fire-and-forget messages between the nodes of one deployment (GraphQL subscription events,
 * v1 `/publish` events, auth-cache invalidation). Messages are JSON values.
 */
export interface PubSub {
  publish(channel: string, message: unknown): Promise<void>;
  subscribe(channel: string, listener: MessageListener): Promise<Unsubscribe>;
  /** True while messages published on any node reach this one. */
  readonly connected: boolean;
  /** Called whenever `connected` changes; messages published while disconnected are lost. */
  onConnectionChange(listener: (connected: boolean) => void): () => void;
  close(): Promise<void>;
}
