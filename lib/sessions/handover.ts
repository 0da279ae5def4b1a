// A session's messages as they travel to the process that takes it over (directory.ts,
// "Takeover"): plain JSON, text as text and bytes in base64, a lost broadcast as its place.
import { toPayload } from '../transports/payload.js';
import type { HandedMessage, LateBroadcast } from './directory.js';
import { LoggedMessage } from './message-log.js';

/** A client message held for a handler, as the owner hands it over. */
export function handedClientMessage(message: string | Buffer): HandedMessage {
  return typeof message === 'string' ? { text: message } : { bytes: message.toString('base64') };
}

/** A handed-over client message, as the new owner's handlers receive it. */
export function clientMessage(handed: HandedMessage): string | Buffer {
  return handed.bytes !== undefined ? Buffer.from(handed.bytes, 'base64') : (handed.text ?? '');
}

/** A kept message as the owner hands it over. */
export function handedMessage(message: LoggedMessage): HandedMessage {
  if (message.lost) return { lost: true };
  const { payload, fields } = message;
  const handed: HandedMessage = typeof payload === 'string' ? { text: payload } : { bytes: payload.toString('base64') };
  if (fields.event !== undefined) handed.event = fields.event;
  if (fields.id !== undefined) handed.id = fields.id;
  return handed;
}

/** A handed-over message as the new owner keeps it: in the session's own log. */
export function keptMessage(handed: HandedMessage): LoggedMessage {
  if (handed.lost === true) return lostMessage();
  const payload = handed.bytes !== undefined ? Buffer.from(handed.bytes, 'base64') : (handed.text ?? '');
  return new LoggedMessage(payload, { event: handed.event, id: handed.id });
}

/** The messages a late broadcast stands for: itself, or one lost place per broadcast lost. */
export function lateMessages(late: LateBroadcast): LoggedMessage[] {
  if (late.lost !== undefined) return Array.from({ length: late.lost }, lostMessage);
  return [new LoggedMessage(toPayload(late.payload), late.fields)];
}

function lostMessage(): LoggedMessage {
  const message = new LoggedMessage('', {});
  message.lost = true;
  return message;
}
