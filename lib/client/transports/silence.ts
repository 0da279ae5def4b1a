// The watchdog of the streaming transports: the server says something at least every
// heartbeat (an SSE comment, a WebSocket beat: docs/protocol.md), so silence for 2.5 of them
// is a connection that died without closing (a NAT that forgot the flow), which TCP would
// notice only after minutes.
import { ClientError } from '../errors.js';

export interface SilenceWatch {
  /** Something arrived: the silence starts again. */
  heard(): void;
  /** From the hello: ms between the server's heartbeats (0 or none: it sends none, nothing is watched). */
  heartbeat: number | undefined;
  stop(): void;
}

/** Calls `lost` after 2.5 heartbeats without `heard()`; `name` says which transport went silent. */
export function watchSilence(name: string, lost: (error: ClientError) => void): SilenceWatch {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const watch: SilenceWatch = {
    heartbeat: undefined,
    heard() {
      clearTimeout(timer);
      const silence = (watch.heartbeat ?? 0) * 2.5;
      if (silence > 0) timer = setTimeout(() => lost(new ClientError('lost', `${name}: no data for ${silence} ms`)), silence);
    },
    stop: () => clearTimeout(timer),
  };
  return watch;
}
