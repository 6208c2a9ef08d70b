import type { ExecutionResult } from 'graphql';
import type { GenerationChange } from '@memegraph/service-kit';
import { Feed } from './feed';
import type { PreparedSubscription } from './operation';

/** The version of a finished generation (SUCCEEDED or FAILED): nothing changes after it. */
const FINISHED = 3;

/** Runs a subscription's query for one generation, as its viewer; a failure is an answer with errors, never a throw. */
export type RunEvent = (subscription: LiveSubscription, generationId: string) => Promise<ExecutionResult>;

/**
 * One open subscription on this router. Changes of its generations are
 * worked through one at a time, each by reading the generation's current
 * state (the subscription's query): so events reach the client in the order
 * the generation went through them, a change heard late (a lower version)
 * is dropped, and several changes heard while a read runs make one read.
 */
export class LiveSubscription {
  readonly feed: Feed<ExecutionResult>;
  /** The highest version heard of each generation. */
  private readonly versions = new Map<string, number>();
  /** What was last delivered for each generation, so an unchanged read delivers nothing. */
  private readonly delivered = new Map<string, string>();
  /** Generations to read again, in the order their changes came. */
  private readonly pending = new Set<string>();
  private reading = false;

  constructor(
    readonly id: string,
    readonly userId: string,
    readonly prepared: PreparedSubscription,
    private readonly run: RunEvent,
    private readonly onEvent: () => void,
    onClose: () => void,
  ) {
    this.feed = new Feed(onClose);
  }

  /** A change of one of the viewer's generations. */
  changed(generationId: string, version: number): void {
    if (this.prepared.generationId !== undefined && generationId !== this.prepared.generationId) return;
    if (version < (this.versions.get(generationId) ?? 0)) return;
    this.versions.set(generationId, version);
    this.refresh(generationId);
  }

  /** The waiting line moved: generations not yet running have new positions. */
  queueMoved(): void {
    if (!this.prepared.queuePosition) return;
    if (this.prepared.generationId !== undefined) {
      if ((this.versions.get(this.prepared.generationId) ?? 0) < 2) this.refresh(this.prepared.generationId);
      return;
    }
    for (const [id, version] of this.versions) if (version < 2) this.refresh(id);
  }

  /**
   * Reads again every generation it follows that has not finished: Redis
   * pub/sub drops what is published while a router reconnects, and without
   * Redis no change is heard at all.
   */
  resync(): void {
    if (this.prepared.generationId !== undefined) {
      if ((this.versions.get(this.prepared.generationId) ?? 0) < FINISHED) this.refresh(this.prepared.generationId);
      return;
    }
    for (const [id, version] of this.versions) if (version < FINISHED) this.refresh(id);
  }

  /** Reads the generation (again) and delivers it when it changed. */
  refresh(generationId: string): void {
    if (!this.feed.open) return;
    this.pending.add(generationId);
    if (!this.reading) void this.work();
  }

  private async work(): Promise<void> {
    this.reading = true;
    try {
      while (this.pending.size > 0 && this.feed.open) {
        const generationId = this.pending.values().next().value!;
        this.pending.delete(generationId);
        // What had been heard when the read began: a read begun after the finishing change reads it finished.
        const heard = this.versions.get(generationId) ?? 0;
        const result = await this.run(this, generationId);
        this.deliver(generationId, result, heard);
      }
    } finally {
      this.reading = false;
    }
  }

  private deliver(generationId: string, result: ExecutionResult, heard: number): void {
    const value = result.data?.[this.prepared.responseKey] as Record<string, unknown> | null | undefined;
    // Not the viewer's, or no such generation: nothing to say, not even that.
    if (!result.errors?.length && !value) return;
    const event: ExecutionResult = result.errors?.length
      ? { data: result.data, errors: result.errors }
      : { data: result.data };
    const text = JSON.stringify(event);
    if (this.delivered.get(generationId) === text) return;
    this.delivered.set(generationId, text);
    this.feed.push(event);
    this.onEvent();
    // Finished by what the read says when it selects status, else by what had been heard before it.
    const { statusKey } = this.prepared;
    const status = statusKey === undefined ? undefined : value?.[statusKey];
    const finished = statusKey !== undefined ? status === 'SUCCEEDED' || status === 'FAILED' : heard >= FINISHED;
    if (!finished) return;
    // A finished generation changes no more: generationUpdated is over, myGenerations forgets it.
    if (this.prepared.field === 'generationUpdated') this.feed.end();
    else {
      this.versions.delete(generationId);
      this.delivered.delete(generationId);
    }
  }
}

/** The open subscriptions of this router, by owner, and the changes heard from every router's Redis. */
export class SubscriptionHub {
  private readonly byUser = new Map<string, Set<LiveSubscription>>();
  private readonly all = new Set<LiveSubscription>();

  get size(): number {
    return this.all.size;
  }

  add(subscription: LiveSubscription): void {
    this.all.add(subscription);
    let mine = this.byUser.get(subscription.userId);
    if (!mine) this.byUser.set(subscription.userId, (mine = new Set()));
    mine.add(subscription);
  }

  remove(subscription: LiveSubscription): void {
    this.all.delete(subscription);
    const mine = this.byUser.get(subscription.userId);
    mine?.delete(subscription);
    if (mine?.size === 0) this.byUser.delete(subscription.userId);
  }

  /** A change announced by the ai subgraph: to its owner's subscriptions only. */
  dispatch(change: GenerationChange): void {
    for (const subscription of this.byUser.get(change.userId) ?? []) subscription.changed(change.id, change.version);
    if (change.queueMoved) for (const subscription of this.all) subscription.queueMoved();
  }

  /** See LiveSubscription.resync. */
  resync(): void {
    for (const subscription of this.all) subscription.resync();
  }

  /** Ends every subscription (the router is draining). */
  endAll(): LiveSubscription[] {
    const ended = [...this.all];
    for (const subscription of ended) subscription.feed.end();
    return ended;
  }
}
