// @indexer/client: a typed client of `indexer serve` (WebSocket JSON-RPC 2.0).
export { connect, IndexerClient } from './client.js';
export type { CallOptions, ConnectOptions, ConnectionState, Disposable, ReconnectOptions, Subscription } from './client.js';
export { AbortError, ConnectionError, RpcError, TimeoutError } from './errors.js';
export * from './protocol.js';
