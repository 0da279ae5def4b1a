// Network failures in Node, said in words: fetch's `TypeError: fetch failed` and ws's error
// event carry the socket's error (its `code`) underneath, which is what a user needs to read
// ("connection refused", not "fetch failed" or a bare close code 1006). Node only: browsers
// expose no cause, and the browser bundle keeps its bytes (errors.ts, describeCause).

const meanings: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  UND_ERR_SOCKET: 'connection reset',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
  UND_ERR_HEADERS_TIMEOUT: 'timed out waiting for the answer',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** `connection refused (connect ECONNREFUSED 127.0.0.1:3000)`, or the cause's own message. */
export function describeNodeCause(cause: unknown): string {
  // fetch: TypeError('fetch failed', { cause: <the socket's error> }); ws: the error itself.
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  const code = (inner as { code?: unknown } | undefined)?.code;
  const meaning = typeof code === 'string' ? meanings[code] : undefined;
  const text = inner instanceof Error ? inner.message || code : String(inner);
  return meaning === undefined ? String(text) : `${meaning} (${String(text)})`;
}
