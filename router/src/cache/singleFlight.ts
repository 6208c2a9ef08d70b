import type { SharedFlights } from './sharedFlight';
import type { CachedResponse } from './store';

/**
 * Single-flight misses of the response cache: concurrent misses of one cache
 * key (which holds the partition and, for PRIVATE answers, the viewer) make
 * one execution, and those that arrived meanwhile are answered from what it
 * stored. This module is the one place that knows who leads and who waits;
 * the response-cache stage (stages/responseCache.ts) asks it after a miss and
 * settles the lead once the execution stored its answer, or stored nothing.
 */

/** The execution that answers for a key: later misses of it wait until it settles. */
export interface Lead {
  role: 'lead';
  /**
   * Ends the flight: `entry` is what the execution stored, or undefined when
   * it stored nothing (errors, partial data, a refusal, a throw). Those
   * waiting are then answered from `entry`, or execute on their own.
   * Settling again does nothing.
   */
  settle(entry: CachedResponse | undefined): void;
}

/** A miss of a key another execution is answering: what that execution stored, or undefined when it stored nothing. */
export interface Follow {
  role: 'follow';
  answer: Promise<CachedResponse | undefined>;
}

export type Flight = Lead | Follow;

export interface SingleFlightOptions {
  /** Told when a miss waits on another execution (`response_cache_single_flight_waits_total`). */
  onWait?: () => void;
  /** Told when what it waited for was not stored, so it executes on its own (`…_unshared_total`). */
  onUnshared?: () => void;
  /** Routers sharing Redis: a key's first miss on this router executes only if no other router is executing it. */
  across?: SharedFlights;
}

/**
 * The flights of one router. `join` and `lead` register a new flight before
 * they return or await anything, so of several misses of a key in one turn
 * of the event loop exactly one leads.
 */
export class SingleFlight {
  private readonly flights = new Map<string, Promise<CachedResponse | undefined>>();

  constructor(private readonly options: SingleFlightOptions = {}) {}

  /**
   * Called right after a miss of `key`: lead its flight, or follow the one in
   * flight. With `acrossRouters` (a key that was cached before: an expired
   * answer or a purge's stale copy was found, so it is wanted), a miss that
   * would lead first checks that no other router is executing it; a key never
   * stored is not worth the Redis round trips.
   */
  async join(key: string, options: { acrossRouters?: boolean } = {}): Promise<Flight> {
    const running = this.flights.get(key);
    if (!running) return options.acrossRouters ? this.startAcross(key) : this.start(key);
    this.options.onWait?.();
    const { onUnshared } = this.options;
    return {
      role: 'follow',
      answer: running.then((entry) => {
        if (!entry) onUnshared?.();
        return entry;
      }),
    };
  }

  /** Leads `key`'s flight when none runs (a background refresh), else undefined: one refresh per key is enough. */
  async lead(key: string): Promise<Lead | undefined> {
    return this.flights.has(key) ? undefined : this.start(key);
  }

  /**
   * This router's flight of `key`, led by this miss unless another router
   * is executing the key: then this miss (and those of this router that
   * follow it) waits for that execution's answer, or executes when there
   * is none.
   */
  private async startAcross(key: string): Promise<Flight> {
    const lead = this.start(key);
    const across = this.options.across;
    if (!across) return lead;
    const claim = await across.claim(key);
    if (claim) {
      let released = false;
      return {
        role: 'lead',
        settle: (entry) => {
          lead.settle(entry);
          if (released) return;
          released = true;
          void claim.release();
        },
      };
    }
    this.options.onWait?.();
    const entry = await across.wait(key);
    if (!entry) {
      this.options.onUnshared?.();
      return lead;
    }
    lead.settle(entry);
    return { role: 'follow', answer: Promise.resolve(entry) };
  }

  private start(key: string): Lead {
    let resolve!: (entry: CachedResponse | undefined) => void;
    const flight = new Promise<CachedResponse | undefined>((r) => (resolve = r));
    this.flights.set(key, flight);
    let settled = false;
    return {
      role: 'lead',
      settle: (entry) => {
        if (settled) return;
        settled = true;
        if (this.flights.get(key) === flight) this.flights.delete(key);
        resolve(entry);
      },
    };
  }
}
