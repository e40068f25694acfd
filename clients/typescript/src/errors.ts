// What a call can fail with. Each is its own class so callers can tell them apart with
// `instanceof`: the server said no (RpcError), the caller gave up (AbortError, TimeoutError), or
// the connection was lost or closed before an answer came (ConnectionError).

/** An error response from the server: `code` as JSON-RPC numbers it (see ErrorCodes). */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: number,
    message: string,
    readonly data?: unknown,
  ) {
    super(message);
  }
}

/** The call's AbortSignal fired; `cause` is the signal's reason. */
export class AbortError extends Error {
  override readonly name = 'AbortError';
  constructor(message = 'the request was aborted', options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** No answer within the call's timeout (the request is cancelled on the server too). */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(
    readonly method: string,
    readonly timeoutMs: number,
  ) {
    super(`${method}: no answer within ${timeoutMs} ms`);
  }
}

/** The connection closed before the answer came, or the client was closed. */
export class ConnectionError extends Error {
  override readonly name = 'ConnectionError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
