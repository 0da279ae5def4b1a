// ChannelHandlers on its own: the order user callbacks run in, driven directly. The only
// double is its HandlerOwner (the interface it declares for the channel that owns it).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ChannelHandlers, type HandlerOwner } from '../../lib/channel/handlers.js';
import type { CloseReason } from '../../lib/index.js';

/** The channel's side, recording what the handlers report back. */
class RecordingOwner implements HandlerOwner {
  readonly errors: unknown[] = [];
  drained = 0;
  reportError(error: unknown): void {
    this.errors.push(error);
  }
  heldDrained(): void {
    this.drained++;
  }
}

function setup(): { owner: RecordingOwner; handlers: ChannelHandlers; log: string[] } {
  const owner = new RecordingOwner();
  return { owner, handlers: new ChannelHandlers(owner), log: [] };
}

/** Every nextTick callback queued so far, and the ones they queue, have run. */
const ticksRun = () => new Promise<void>((resolve) => setImmediate(resolve));

// The grace close handlers give a handler that has not registered while messages wait.
const heldMessagesGrace = 2000;

describe('ChannelHandlers', () => {
  it('delivers each message to every handler, in the order received and the order registered', () => {
    const { handlers, log } = setup();
    handlers.addReceiver((m) => log.push(`first ${String(m)}`));
    handlers.addReceiver((m) => log.push(`second ${String(m)}`));
    handlers.receive('a');
    handlers.receive(Buffer.from('b'));
    assert.deepEqual(log, ['first a', 'second a', 'first b', 'second b']);
  });

  it('holds messages that arrive before any handler and delivers them in order on the tick after it registers', async () => {
    const { owner, handlers, log } = setup();
    handlers.receive('a');
    handlers.receive('b');
    assert.equal(handlers.heldCount, 2);
    handlers.addReceiver((m) => log.push(String(m)));
    // Never inside the registration: and a message arriving meanwhile queues behind the held ones.
    handlers.receive('c');
    assert.equal(log.length, 0);
    assert.equal(handlers.heldCount, 3);
    await ticksRun();
    assert.deepEqual(log, ['a', 'b', 'c']);
    assert.equal(handlers.heldCount, 0);
    assert.equal(owner.drained, 1, 'the owner may resume reading');
    handlers.receive('d');
    assert.deepEqual(log, ['a', 'b', 'c', 'd'], 'delivered at once once nothing is held');
  });

  it('records the close reason at once and runs close handlers on a later tick, each once', async () => {
    const { handlers, log } = setup();
    handlers.addCloser((reason) => log.push(`one ${reason}`));
    handlers.addCloser((reason) => log.push(`two ${reason}`));
    assert.equal(handlers.closeReason, undefined);
    handlers.closed('normal');
    assert.equal(handlers.closeReason, 'normal');
    assert.equal(log.length, 0, 'not inside closed()');
    await ticksRun();
    assert.deepEqual(log, ['one normal', 'two normal']);
    await ticksRun();
    assert.deepEqual(log, ['one normal', 'two normal']);
  });

  it('runs close handlers after the last message, also when messages were still held at the close', async () => {
    const { handlers, log } = setup();
    handlers.addCloser((reason) => log.push(`closed ${reason}`));
    handlers.receive('held');
    handlers.addReceiver((m) => log.push(String(m)));
    handlers.closed('client-close');
    await ticksRun();
    assert.deepEqual(log, ['held', 'closed client-close']);
  });

  it('runs a close handler registered after the close on the next tick, with the recorded reason', async () => {
    const { handlers, log } = setup();
    handlers.closed('going-away');
    await ticksRun();
    handlers.addCloser((reason) => log.push(reason));
    assert.equal(log.length, 0, 'not synchronously');
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.deepEqual(log, ['going-away']);
  });

  it('reports a throwing message handler to its owner and still runs the others, for every message', () => {
    const { owner, handlers, log } = setup();
    const failure = new Error('handler failed');
    handlers.addReceiver(() => {
      throw failure;
    });
    handlers.addReceiver((m) => log.push(String(m)));
    handlers.receive('a');
    handlers.receive('b');
    assert.deepEqual(log, ['a', 'b']);
    assert.deepEqual(owner.errors, [failure, failure]);
  });

  it('reports a throwing close handler to its owner and still runs the others', async () => {
    const { owner, handlers, log } = setup();
    const failure = new Error('close handler failed');
    handlers.addCloser(() => {
      throw failure;
    });
    handlers.addCloser((reason) => log.push(reason));
    handlers.closed('server-close');
    await ticksRun();
    assert.deepEqual(log, ['server-close']);
    assert.deepEqual(owner.errors, [failure]);
  });

  describe('a close while messages wait for a handler that has not registered', () => {
    it('waits for the handler, then delivers the held messages before running close handlers', async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { handlers, log } = setup();
      handlers.addCloser((reason) => log.push(`closed ${reason}`));
      handlers.receive('a');
      handlers.closed('client-close');
      await ticksRun();
      assert.equal(log.length, 0, 'close handlers wait for the messages');
      t.mock.timers.tick(heldMessagesGrace - 1);
      handlers.addCloser((reason) => log.push(`late ${reason}`)); // waits with the others
      handlers.addReceiver((m) => log.push(String(m)));
      await ticksRun();
      assert.deepEqual(log, ['a', 'closed client-close', 'late client-close']);
      t.mock.timers.tick(1);
      await ticksRun();
      assert.equal(log.length, 3, 'the grace timer was cancelled: nothing runs twice');
    });

    it('gives up on the handler after the grace period: the held messages go with the channel', async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { handlers, log } = setup();
      handlers.addCloser((reason) => log.push(`closed ${reason}`));
      handlers.receive('a');
      handlers.closed('client-close');
      t.mock.timers.tick(heldMessagesGrace - 1);
      await ticksRun();
      assert.equal(log.length, 0);
      t.mock.timers.tick(1);
      assert.deepEqual(log, ['closed client-close']);
      assert.equal(handlers.heldCount, 0);
      handlers.addReceiver((m) => log.push(String(m)));
      await ticksRun();
      assert.deepEqual(log, ['closed client-close'], 'a handler registered afterwards gets nothing');
    });

    it('does not wait on shutdown: close handlers run on the next tick', async (t) => {
      t.mock.timers.enable({ apis: ['setTimeout'] });
      const { handlers, log } = setup();
      const reasons: CloseReason[] = [];
      handlers.addCloser((reason) => reasons.push(reason));
      handlers.receive('a');
      handlers.closed('shutdown');
      await ticksRun();
      assert.deepEqual(reasons, ['shutdown']);
      assert.equal(log.length, 0);
    });
  });
});
