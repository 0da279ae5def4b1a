// The seam for sessions across processes (docs/scaling.md): which process owns a session,
// and a way to hand a request to it. express-channel/redis implements it; one process needs
// none. The process that opened a session (its owner) stays the one place where its buffer
// and handlers live; a request of that session that reaches another process is carried to
// the owner and answered there.

/** A session request as it travels to the owner: what the owner needs to answer it. */
export interface ForwardedRequest {
  method: string;
  url: string;
  /** The headers session handling reads (content-type, ec-secret, last-event-id, origin). */
  headers: Record<string, string>;
  /** A POST's body, as text. */
  body?: string | undefined;
  /** The client's address as the receiving process saw it (its socket's peer). */
  address?: string | undefined;
}

/** The owner's answer, written to the client by the process that received the request. */
export interface ForwardedAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A forwarded request being answered on the owner. */
export interface ForwardedExchange {
  answer(answer: ForwardedAnswer): void;
  /** Aborted when the client went away (its process said so) before the answer. */
  readonly cancelled: AbortSignal;
}

/** Which process owns each session, and the way to its owner. */
export interface SessionDirectory {
  /** This process now owns session `id`. */
  claimed(id: string): void;
  /** This process no longer owns session `id` (it closed). */
  released(id: string): void;
  /** The live process that owns session `id`, if another one does; undefined if none does. */
  locate(id: string): Promise<string | undefined>;
  /** Carries `request` to `owner`; resolves with its answer, or rejects (owner gone, timeout, abort). */
  forward(owner: string, request: ForwardedRequest, options: { signal: AbortSignal; timeout: number }): Promise<ForwardedAnswer>;
  /** Where requests forwarded to this process go. */
  serve(handler: (request: ForwardedRequest, exchange: ForwardedExchange) => void): void;
}

/** True for an adapter that also keeps a session directory (the Redis one does). */
export function isSessionDirectory(value: unknown): value is SessionDirectory {
  const v = value as Partial<SessionDirectory> | undefined;
  return typeof v?.locate === 'function' && typeof v.forward === 'function' && typeof v.serve === 'function';
}
