import type { ExecutionResult } from 'graphql';
import { describe, expect, it } from 'vitest';
import { LiveSubscription, SubscriptionHub } from './hub';
import type { PreparedSubscription } from './operation';

const prepared = (overrides: Partial<PreparedSubscription> = {}): PreparedSubscription => ({
  field: 'generationUpdated',
  responseKey: 'generationUpdated',
  generationId: '7',
  queryText: 'query { generationUpdated: generation(id: "7") { id status } }',
  variables: {},
  queuePosition: true,
  statusKey: 'status',
  cost: 1,
  ...overrides,
});

/**
 * The generations as the subgraph holds them, and reads of them that the
 * test answers one at a time (a read in flight waits for `answer()`).
 */
function world() {
  const state = new Map<string, { id: string; status: string; queuePosition: number | null } | null>();
  const waiting: { id: string; resolve: () => void }[] = [];
  const reads: string[] = [];
  const run = (subscription: LiveSubscription, id: string) =>
    new Promise<ExecutionResult>((resolve) => {
      reads.push(id);
      waiting.push({
        id,
        // The read answers with the state when it is answered, as a query executing then would.
        resolve: () => resolve({ data: { [subscription.prepared.responseKey]: state.get(id) ?? null } }),
      });
    });
  const answer = async () => {
    const next = waiting.shift();
    if (!next) throw new Error('no read in flight');
    next.resolve();
    // Let the subscription deliver and start its next read.
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { state, run, answer, reads, inFlight: () => waiting.length };
}

/** A live subscription reading through `w`: viewer u1's `s`, with the prepared subscription above, unless told otherwise. */
function subscribe(
  w: ReturnType<typeof world>,
  options: { id?: string; userId?: string; prepared?: Partial<PreparedSubscription>; onEvent?: () => void } = {},
): LiveSubscription {
  return new LiveSubscription(
    options.id ?? 's',
    options.userId ?? 'u1',
    prepared(options.prepared),
    w.run,
    options.onEvent ?? (() => undefined),
    () => undefined,
  );
}

async function drain<T>(feed: AsyncIterator<T>, count: number): Promise<T[]> {
  const values: T[] = [];
  for (let i = 0; i < count; i++) values.push((await feed.next()).value as T);
  return values;
}

describe('a live subscription', () => {
  it('reads one change at a time, coalesces changes heard meanwhile, and sends only what changed', async () => {
    const w = world();
    let delivered = 0;
    const live = subscribe(w, { onEvent: () => delivered++ });
    w.state.set('7', { id: '7', status: 'QUEUED', queuePosition: 2 });
    live.refresh('7');
    expect(w.inFlight()).toBe(1);
    // Heard while the first read runs: one more read after it, not three.
    live.queueMoved();
    live.changed('7', 1);
    live.queueMoved();
    expect(w.inFlight()).toBe(1);
    await w.answer();
    w.state.set('7', { id: '7', status: 'QUEUED', queuePosition: 1 });
    await w.answer();
    expect(w.reads).toEqual(['7', '7']);
    // A change that changes nothing the selection shows sends nothing.
    live.changed('7', 1);
    await w.answer();
    w.state.set('7', { id: '7', status: 'RUNNING', queuePosition: null });
    live.changed('7', 2);
    await w.answer();
    w.state.set('7', { id: '7', status: 'SUCCEEDED', queuePosition: null });
    live.changed('7', 3);
    await w.answer();
    const events = await drain(live.feed, 4);
    expect(
      events.map((e) => (e.data as { generationUpdated: { status: string; queuePosition: number } }).generationUpdated),
    ).toEqual([
      { id: '7', status: 'QUEUED', queuePosition: 2 },
      { id: '7', status: 'QUEUED', queuePosition: 1 },
      { id: '7', status: 'RUNNING', queuePosition: null },
      { id: '7', status: 'SUCCEEDED', queuePosition: null },
    ]);
    expect(delivered).toBe(4);
    // Finished: generationUpdated is over.
    expect(await live.feed.next()).toEqual({ value: undefined, done: true });
  });

  it('a generation finishing while its running state is read still sends the finished state before it ends', async () => {
    const w = world();
    const live = subscribe(w);
    w.state.set('7', { id: '7', status: 'RUNNING', queuePosition: null });
    live.changed('7', 2);
    // It finishes while that read is in flight; the read still answers RUNNING.
    live.changed('7', 3);
    await w.answer();
    w.state.set('7', { id: '7', status: 'SUCCEEDED', queuePosition: null });
    await w.answer();
    const events = await drain(live.feed, 2);
    expect(events.map((e) => (e.data as { generationUpdated: { status: string } }).generationUpdated.status)).toEqual([
      'RUNNING',
      'SUCCEEDED',
    ]);
    expect(await live.feed.next()).toEqual({ value: undefined, done: true });
  });

  it('without status in its selection, ends after a read begun once the finishing change was heard', async () => {
    const w = world();
    const live = subscribe(w, { prepared: { statusKey: undefined } });
    w.state.set('7', { id: '7', status: 'RUNNING', queuePosition: null });
    live.changed('7', 2);
    live.changed('7', 3);
    await w.answer();
    w.state.set('7', { id: '7', status: 'SUCCEEDED', queuePosition: null });
    await w.answer();
    expect((await drain(live.feed, 2)).length).toBe(2);
    expect(await live.feed.next()).toEqual({ value: undefined, done: true });
  });

  it('drops a change heard after a later one, and a change of another generation', async () => {
    const w = world();
    const live = subscribe(w);
    live.changed('7', 2);
    await w.answer();
    live.changed('7', 1);
    live.changed('8', 3);
    expect(w.inFlight()).toBe(0);
    expect(w.reads).toEqual(['7']);
  });

  it("sends nothing for a generation the read does not return (not the viewer's)", async () => {
    const w = world();
    const live = subscribe(w);
    live.refresh('7');
    await w.answer();
    live.feed.end();
    expect(await live.feed.next()).toEqual({ value: undefined, done: true });
  });

  it('myGenerations follows every generation of its owner, and forgets finished ones', async () => {
    const w = world();
    const live = subscribe(w, {
      prepared: { field: 'myGenerations', responseKey: 'myGenerations', generationId: undefined },
    });
    w.state.set('1', { id: '1', status: 'SUCCEEDED', queuePosition: null });
    w.state.set('2', { id: '2', status: 'QUEUED', queuePosition: 1 });
    live.changed('1', 3);
    live.changed('2', 1);
    await w.answer();
    await w.answer();
    // The line moved: only the unfinished one is read again.
    w.state.set('2', { id: '2', status: 'RUNNING', queuePosition: null });
    live.queueMoved();
    await w.answer();
    expect(w.reads).toEqual(['1', '2', '2']);
    const events = await drain(live.feed, 3);
    expect(
      events.map((e) => (e.data as { myGenerations: { id: string; status: string } }).myGenerations.status),
    ).toEqual(['SUCCEEDED', 'QUEUED', 'RUNNING']);
  });
});

describe('the hub', () => {
  it("hands a change to its owner's subscriptions only, and a queue move to all", async () => {
    const w = world();
    const hub = new SubscriptionHub();
    const mine = subscribe(w, { id: 'a' });
    const theirs = subscribe(w, { id: 'b', userId: 'u2', prepared: { generationId: '9' } });
    hub.add(mine);
    hub.add(theirs);
    hub.dispatch({ id: '7', userId: 'u2', status: 'RUNNING', version: 2 });
    expect(w.reads).toEqual([]);
    hub.dispatch({ id: '7', userId: 'u1', status: 'QUEUED', version: 1 });
    expect(w.reads).toEqual(['7']);
    await w.answer();
    hub.dispatch({ id: '3', userId: 'u3', status: 'RUNNING', version: 2, queueMoved: true });
    expect(w.reads).toEqual(['7', '7', '9']);
    hub.remove(theirs);
    expect(hub.size).toBe(1);
  });
});
