// What the two load generators (bench/client.ts, bench/pair.ts) share about reading sockets.

/** A connection's incomplete frame or event, carried from one read to the next. */
export interface Carry {
  tail: Buffer | undefined;
}

/** The bytes to parse now: what was carried over from the last read, then this read's. */
export function withCarried(conn: Carry, buffer: Buffer, nread: number): Buffer {
  const data = buffer.subarray(0, nread);
  const tail = conn.tail;
  if (tail === undefined) return data;
  conn.tail = undefined;
  return Buffer.concat([tail, data]);
}
