import type { IncomingMessage } from 'node:http';

/**
 * Which proxies in front of the app to believe about the client's address, as Express's
 * `trust proxy`: `false` (the socket's peer is the client), `true` (every hop), a number of
 * hops (1: one proxy in front, whose `X-Forwarded-For` entry is the client), or a predicate
 * `(address, hop) => boolean` saying whether the hop at that address is a trusted proxy.
 */
export type TrustProxy = boolean | number | ((address: string, hop: number) => boolean);

/** A TrustProxy as the one predicate it means. */
export function trustFunction(trust: TrustProxy): (address: string, hop: number) => boolean {
  if (typeof trust === 'function') return trust;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return () => trust;
}

/**
 * The client's address: the socket's peer, or, walking `X-Forwarded-For` from the nearest hop
 * outwards, the first address that is not a trusted proxy. An untrusted hop's header is never
 * read, so a client cannot choose its own address by sending the header itself.
 */
export function clientAddress(req: IncomingMessage, trusts: (address: string, hop: number) => boolean): string {
  const hops = [req.socket.remoteAddress ?? '', ...forwardedFor(req).reverse()];
  for (let hop = 0; hop < hops.length - 1; hop++) {
    if (!trusts(hops[hop] as string, hop)) return hops[hop] as string;
  }
  return hops[hops.length - 1] as string;
}

function forwardedFor(req: IncomingMessage): string[] {
  const header = req.headers['x-forwarded-for'];
  if (header === undefined) return [];
  const joined = Array.isArray(header) ? header.join(',') : header;
  return joined
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}
