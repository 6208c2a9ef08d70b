import { describe, expect, it } from 'vitest';
import { SingleFlight } from './singleFlight';
import type { CachedResponse } from './store';

const entry: CachedResponse = { data: '{"a":1}', storedAt: 0, maxAge: 30, tags: ['Meme:1'] };

describe('SingleFlight', () => {
  it('makes the first miss of a key lead and the others of that key follow, answered from what the lead stored', async () => {
    const waits: string[] = [];
    const flights = new SingleFlight({ onWait: () => waits.push('wait'), onUnshared: () => waits.push('unshared') });
    const [first, second, other] = await Promise.all([flights.join('k'), flights.join('k'), flights.join('j')]);
    expect(first.role).toBe('lead');
    expect(second.role).toBe('follow');
    expect(other.role).toBe('lead');
    if (first.role !== 'lead' || second.role !== 'follow') throw new Error('unreachable');
    first.settle(entry);
    expect(await second.answer).toBe(entry);
    expect(waits).toEqual(['wait']);
    // Once settled, the next miss leads a flight of its own.
    expect((await flights.join('k')).role).toBe('lead');
  });

  it('tells those waiting that nothing was stored, once, however often the lead settles', async () => {
    const told: string[] = [];
    const flights = new SingleFlight({ onUnshared: () => told.push('unshared') });
    const lead = await flights.join('k');
    const follow = await flights.join('k');
    if (lead.role !== 'lead' || follow.role !== 'follow') throw new Error('unreachable');
    lead.settle(undefined);
    lead.settle(entry);
    expect(await follow.answer).toBeUndefined();
    expect(told).toEqual(['unshared']);
  });

  it('starts one background refresh per key', async () => {
    const flights = new SingleFlight();
    const refresh = await flights.lead('k');
    expect(refresh?.role).toBe('lead');
    expect(await flights.lead('k')).toBeUndefined();
    const waiting = await flights.join('k');
    expect(waiting.role).toBe('follow');
    refresh!.settle(entry);
    if (waiting.role === 'follow') expect(await waiting.answer).toBe(entry);
    expect(await flights.lead('k')).toBeDefined();
  });
});
