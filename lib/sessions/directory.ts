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

// Takeover (docs/scaling.md, "Takeover"): a WebSocket or SSE resume that reaches a process
// which does not hold the session cannot be forwarded (its connection is here), so the
// session comes here instead. The owner hands over what the client has not acknowledged, its
// counters and its named groups, and stops serving it; this process adopts it and runs the
// route again. Broadcasts of other processes in flight meanwhile are recorded here and kept
// only past the owner's high-water marks, so none is lost or doubled.

/** What a resume asks of the owner when it takes the session over. */
export interface TakeoverRequest {
  /** The session id. */
  id: string;
  /** What the client says it has (the resume's `eca`). */
  ack: number;
  /** The resume's proof: the secret, or a resume ticket (checked by the owner). */
  credentials: { secret?: string | undefined; ticket?: string | undefined };
  /** The resume's URL and the headers session handling reads, as a forwarded request carries them. */
  url: string;
  headers: Record<string, string>;
  /** The asking process's clock when the owner must no longer hand the session over (ms since the epoch). */
  deadline: number;
}

/** One message of a handed-over session: text, or bytes in base64, or a lost broadcast's place. */
export interface HandedMessage {
  text?: string;
  bytes?: string;
  event?: string;
  id?: string | number;
  lost?: true;
}

/** A session as its owner hands it over. */
export interface SessionState {
  secret: string;
  /** Client messages delivered to the route's handlers. */
  received: number;
  /** The sequence number of `messages[0]` (of the next message, with none held). */
  first: number;
  /** What the client has not acknowledged, in order. */
  messages: HandedMessage[];
  /** The named groups it is a member of. */
  groups: string[];
  /** Client messages counted in `received` that no handler had taken yet: delivered by the new owner. */
  held: HandedMessage[];
  /** Per group, the number of the last broadcast each publishing process had delivered to it. */
  highWater: Record<string, Record<string, number>>;
}

/** Per group, the number of the last broadcast of each publisher delivered on this process. */
export type HighWaterMarks = (groups: readonly string[]) => SessionState['highWater'];

/** The owner's answer: the session, or why not (and, when it just moved on, where to). */
export type TakeoverAnswer = { state: SessionState } | { refused: string; movedTo?: string | undefined };

/** A broadcast that reached this process during a takeover and not the old owner: the session still needs it. */
export type LateBroadcast =
  | { group: string; payload: string | Uint8Array; fields: { event?: string | undefined; id?: string | number | undefined }; lost?: undefined }
  /** `count` broadcasts lost on the way here (a subscriber that reconnected meanwhile). */
  | { group: string; lost: number };

/** A takeover answered: the owner's answer, and what arrived here meanwhile. */
export interface Takeover {
  readonly answer: TakeoverAnswer;
  /**
   * Ends the recording begun with the request and returns, in arrival order, the broadcasts
   * of `state`'s groups past its high-water marks. Call it in the same tick as the session
   * joins those groups here: later broadcasts reach it through them.
   */
  finish(state: SessionState | undefined): LateBroadcast[];
}

/** A directory whose sessions can move between processes (the Redis one can). */
export interface TakeoverDirectory extends SessionDirectory {
  /** Asks `owner` to hand session `request.id` over to this process. */
  takeOver(owner: string, request: TakeoverRequest, options: { timeout: number }): Promise<Takeover>;
  /**
   * Where another process's takeover requests go; `handler` answers synchronously, reading
   * `highWater` for the session's groups before the session leaves them.
   */
  serveTakeovers(handler: (request: TakeoverRequest, highWater: HighWaterMarks) => TakeoverAnswer): void;
}

/** True for a directory that supports takeover. */
export function canTakeOver(directory: SessionDirectory | undefined): directory is TakeoverDirectory {
  const d = directory as Partial<TakeoverDirectory> | undefined;
  return typeof d?.takeOver === 'function' && typeof d.serveTakeovers === 'function';
}
