import { randomBytes } from 'node:crypto';

// Every channel needs 128 random bits. One randomBytes call per id costs a trip to the
// CSPRNG each time; drawing 256 ids' worth at once and slicing is several times cheaper,
// with the same randomness.
const idBytes = 16;
const idsPerDraw = 256;
let pool = Buffer.alloc(0);
let offset = 0;

/** A new unguessable id: 128 random bits as 22 characters of base64url. */
export function newChannelId(): string {
  if (offset + idBytes > pool.length) {
    pool = randomBytes(idBytes * idsPerDraw);
    offset = 0;
  }
  const id = pool.toString('base64url', offset, offset + idBytes);
  // Overwrite what was handed out, so the pool never holds a live session id.
  pool.fill(0, offset, offset + idBytes);
  offset += idBytes;
  return id;
}
