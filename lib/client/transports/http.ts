// What the fetch-based transports (SSE, poll, POST) share: URLs and error answers.
import { isRecord } from '../codec.js';
import { parseJson } from '../../protocol/control.js';
import { ClientError, describeCause, unavailable, type ClientErrorCode } from '../errors.js';
import type { ResolvedOptions } from '../options.js';

/** The session a client resumes: its public id and, from its first hello, its secret. */
export interface SessionKey {
  readonly id: string;
  readonly secret: string | undefined;
}

/** A copy of `base` with the session parameters set (docs/protocol.md, "Query parameters"). */
export function sessionUrl(base: URL, params: Record<string, string | number>): string {
  const url = new URL(base.href);
  url.protocol = url.protocol.replace(/^ws/, 'http'); // ws: → http:, wss: → https:
  for (const [key, value] of Object.entries(params)) url.searchParams.set(key, String(value));
  return url.href;
}

/** `ecs=new`, or `ecs=ID&eca=N` to resume. The secret never goes in the URL: see secretHeaders. */
export function sessionParams(session: SessionKey | undefined, lastSeq: number): Record<string, string | number> {
  return session === undefined ? { ecs: 'new' } : { ecs: session.id, eca: lastSeq };
}

/** The header that proves a request is this session's client (docs/protocol.md, "The session secret"). */
export function secretHeaders(session: SessionKey | undefined): Record<string, string> {
  return session?.secret === undefined ? {} : { 'EC-Secret': session.secret };
}

export function requestInit(options: ResolvedOptions, headers: Record<string, string>, signal: AbortSignal): RequestInit {
  return { headers: { ...options.headers(), ...headers }, credentials: options.credentials, cache: 'no-store', signal };
}

const serverCodes: readonly ClientErrorCode[] = ['unknown-session', 'resume-refused', 'origin-not-allowed', 'payload-too-large', 'shutting-down', 'bad-request'];
// The server refused the session's proof: nothing this client can mend, so a refused resume.
const refusedProofs = ['secret-required', 'secret-mismatch'];

/** The ClientError for a non-2xx answer: the server's JSON `error` code when it sent one. */
export async function failure(response: Response, what: string): Promise<ClientError> {
  const body = parseJson(await response.text().catch(() => ''));
  const code = isRecord(body) ? body['error'] : undefined;
  const known = refusedProofs.includes(code as string) ? 'resume-refused' : serverCodes.find((c) => c === code);
  const detail = isRecord(body) && typeof body['message'] === 'string' ? `: ${body['message']}` : '';
  const error = new ClientError(known ?? 'refused', `${what} answered ${response.status}${detail}`, response.status);
  // Seconds, in the header or the body (docs/protocol.md, "Errors").
  const seconds = Number(response.headers.get('retry-after') ?? (isRecord(body) ? body['retryAfter'] : undefined));
  if (seconds > 0) error.retryAfter = seconds * 1000;
  return error;
}

/**
 * POSTs no messages (`[]`) as `session`'s client: how a poll resume learns at once whether the
 * session lives, and how the native EventSource gets a resume ticket. The JSON answer.
 */
export async function postNothing(options: ResolvedOptions, url: string, { session, signal }: { session: SessionKey; signal: AbortSignal }): Promise<unknown> {
  const fetch = options.fetch;
  if (fetch === undefined) throw unavailable('fetch');
  let response: Response;
  try {
    response = await fetch(url, { ...requestInit(options, { 'Content-Type': 'application/json', ...secretHeaders(session) }, signal), method: 'POST', body: '[]' });
  } catch (error) {
    throw networkError('POST', error);
  }
  if (!response.ok) throw await failure(response, 'POST');
  return parseJson(await response.text());
}

export function networkError(what: string, cause: unknown): ClientError {
  return new ClientError('network', `${what} failed: ${describeCause(cause)}`, undefined, cause);
}
