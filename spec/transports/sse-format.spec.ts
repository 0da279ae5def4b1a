import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import fc from 'fast-check';
import { assertSseFields, formatSseEvent, formatSseRetry, sseHeartbeat } from '../../lib/transports/sse-format.js';
import { runs } from '../support/property.js';

/** What a spec-conforming EventSource makes of a stream. */
function parse(stream: string): { events: EventSourceMessage[]; comments: string[]; retries: number[] } {
  const events: EventSourceMessage[] = [];
  const comments: string[] = [];
  const retries: number[] = [];
  const parser = createParser({
    onEvent: (event) => events.push(event),
    onComment: (comment) => comments.push(comment),
    onRetry: (retry) => retries.push(retry),
  });
  parser.feed(stream);
  return { events, comments, retries };
}

// The EventSource spec treats \r\n, \r and \n alike as line ends and joins data lines with \n,
// so that is the text a client can get back.
const asClientSeesIt = (text: string): string => text.replace(/\r\n|\r/g, '\n');

const lineBreak = fc.constantFrom('\n', '\r', '\r\n');
const textWithLineBreaks = fc
  .array(fc.oneof(fc.string({ unit: 'binary' }), lineBreak, lineBreak), { maxLength: 20 })
  .map((parts) => parts.join(''));

function assertInvalidField(fn: () => unknown, message: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.equal((error as TypeError & { code?: string }).code, 'ERR_CHANNEL_INVALID_FIELD');
    assert.equal(error.message, message);
    return true;
  });
}

describe('formatSseEvent', () => {
  it('writes a one-line message as one data line ended by a blank line', () => {
    assert.equal(formatSseEvent('hello'), 'data: hello\n\n');
  });

  it('writes an empty message as one empty data line, which still dispatches an event', () => {
    assert.equal(formatSseEvent(''), 'data: \n\n');
    assert.deepEqual(parse(formatSseEvent('')).events, [{ data: '', event: undefined, id: undefined }]);
  });

  it('starts a new data line at every \\n, \\r and \\r\\n', () => {
    assert.equal(formatSseEvent('a\nb\rc\r\nd'), 'data: a\ndata: b\ndata: c\ndata: d\n\n');
  });

  it('keeps trailing and repeated line breaks as empty data lines', () => {
    assert.equal(formatSseEvent('a\n\n'), 'data: a\ndata: \ndata: \n\n');
    assert.equal(parse(formatSseEvent('a\n\n')).events[0]?.data, 'a\n\n');
  });

  it('writes event and id fields before the data', () => {
    assert.equal(formatSseEvent('x', { event: 'update', id: 'u-1' }), 'event: update\nid: u-1\ndata: x\n\n');
    assert.equal(formatSseEvent('x', { id: 42 }), 'id: 42\ndata: x\n\n');
  });

  it('keeps a leading space of the data (only the one after the colon is eaten)', () => {
    assert.equal(parse(formatSseEvent('  two spaces')).events[0]?.data, '  two spaces');
  });

  it('round-trips any text with \\n, \\r and \\r\\n through eventsource-parser', () => {
    fc.assert(
      fc.property(textWithLineBreaks, (text) => {
        const { events } = parse(formatSseEvent(text));
        assert.equal(events.length, 1);
        assert.equal(events[0]?.data, asClientSeesIt(text));
      }),
      runs(500),
    );
  });

  it('keeps several events in one stream apart, whatever their text', () => {
    fc.assert(
      fc.property(fc.array(textWithLineBreaks, { minLength: 1, maxLength: 5 }), (texts) => {
        const { events } = parse(texts.map((text) => formatSseEvent(text)).join(''));
        assert.deepEqual(
          events.map((event) => event.data),
          texts.map(asClientSeesIt),
        );
      }),
      runs(100),
    );
  });

  it('round-trips any event type and id free of CR, LF and NUL', () => {
    const field = fc.string({ unit: 'binary', minLength: 1 }).filter((s) => !/[\r\n\0]/.test(s));
    fc.assert(
      fc.property(field, field, textWithLineBreaks, (event, id, text) => {
        assertSseFields({ event, id });
        const [parsed] = parse(formatSseEvent(text, { event, id })).events;
        assert.equal(parsed?.event, event);
        assert.equal(parsed?.id, id);
        assert.equal(parsed?.data, asClientSeesIt(text));
      }),
      runs(100),
    );
  });
});

describe('assertSseFields', () => {
  it('accepts absent fields, ordinary strings and numeric ids', () => {
    assertSseFields({});
    assertSseFields({ event: 'tick', id: 'a:b c' });
    assertSseFields({ id: 7 });
    assertSseFields({ event: undefined, id: undefined });
  });

  it('throws a TypeError with code ERR_CHANNEL_INVALID_FIELD for an event with CR, LF or NUL', () => {
    assertInvalidField(() => assertSseFields({ event: 'a\nb' }), 'SSE event must not contain CR, LF or NUL: "a\\nb"');
    assertInvalidField(() => assertSseFields({ event: 'a\rdata: evil' }), 'SSE event must not contain CR, LF or NUL: "a\\rdata: evil"');
    assertInvalidField(() => assertSseFields({ event: 'a\0' }), 'SSE event must not contain CR, LF or NUL: "a\\u0000"');
  });

  it('throws for an id with CR, LF or NUL', () => {
    assertInvalidField(() => assertSseFields({ id: '1\r\n' }), 'SSE id must not contain CR, LF or NUL: "1\\r\\n"');
    assertInvalidField(() => assertSseFields({ id: '\0' }), 'SSE id must not contain CR, LF or NUL: "\\u0000"');
  });

  it('throws for every field value that contains CR, LF or NUL anywhere', () => {
    const poisoned = fc
      .tuple(fc.string(), fc.constantFrom('\r', '\n', '\0', '\r\n'), fc.string())
      .map(([before, bad, after]) => before + bad + after);
    fc.assert(
      fc.property(poisoned, fc.constantFrom('event', 'id'), (value, name) => {
        assert.throws(
          () => assertSseFields({ [name]: value }),
          (error: unknown) => error instanceof TypeError && (error as TypeError & { code?: string }).code === 'ERR_CHANNEL_INVALID_FIELD',
        );
      }),
      runs(100),
    );
  });
});

describe('sseHeartbeat and formatSseRetry', () => {
  it('makes the heartbeat a comment that dispatches no event', () => {
    const { events, comments } = parse(sseHeartbeat + formatSseEvent('after'));
    assert.deepEqual(comments, ['']);
    assert.deepEqual(
      events.map((event) => event.data),
      ['after'],
    );
  });

  it('writes retry as a whole number of milliseconds a client accepts', () => {
    assert.equal(formatSseRetry(1000), 'retry: 1000\n\n');
    assert.equal(formatSseRetry(12.7), 'retry: 12\n\n');
    assert.equal(formatSseRetry(-5), 'retry: 0\n\n');
    assert.deepEqual(parse(formatSseRetry(2500)).retries, [2500]);
  });
});
