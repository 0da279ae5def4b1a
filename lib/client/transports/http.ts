// What the fetch-based transports (SSE, poll, POST) share: URLs and error answers.
import { isRecord } from '../codec.js';
import { parseJson } from '../../protocol/control.js';
import { ClientError, type ClientErrorCode } from '../errors.js';
import type { ResolvedOptions } from '../options.js';

/** A copy of `base` with the session parameters set (docs/protocol.md, "Query parameters"). */
export function sessionUrl(base: URL, params: Record<string, string | number>): string {
  const url = new URL(base.href);
  if (url.protocol === 'ws:') url.protocol = 'http:';
  if (url.protocol === 'wss:') url.protocol = 'https:';
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  return url.href;
}

/** `ecs=new`, or `ecs=ID&eca=N` to resume. */
export function sessionParams(session: string | undefined, lastSeq: number): Record<string, string | number> {
  return session === undefined ? { ecs: 'new' } : { ecs: session, eca: lastSeq };
}

export function requestInit(options: ResolvedOptions, headers: Record<string, string>, signal: AbortSignal): RequestInit {
  return { headers: { ...options.headers(), ...headers }, credentials: options.credentials, cache: 'no-store', signal };
}

const serverCodes: readonly ClientErrorCode[] = ['unknown-session', 'resume-refused', 'origin-not-allowed', 'payload-too-large', 'shutting-down', 'bad-request'];

/** The ClientError for a non-2xx answer: the server's JSON `error` code when it sent one. */
export async function failure(response: Response, what: string): Promise<ClientError> {
  const body = parseJson(await response.text().catch(() => ''));
  const code = isRecord(body) ? body['error'] : undefined;
  const known = serverCodes.find((c) => c === code);
  const detail = isRecord(body) && typeof body['message'] === 'string' ? `: ${body['message']}` : '';
  return new ClientError(known ?? 'refused', `${what} answered ${response.status}${detail}`, response.status);
}

export function networkError(what: string, cause: unknown): ClientError {
  return new ClientError('network', `${what} failed: ${cause instanceof Error ? cause.message : String(cause)}`, undefined, cause);
}
