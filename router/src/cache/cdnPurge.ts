import { ExponentialBackoff, handleAll, retry } from 'cockatiel';
import type { Counter } from 'prom-client';
import type { Logger } from '@memegraph/service-kit';

export interface CdnPurgeOptions {
  /** Where purges are POSTed as `{ "tags": [...] }`. */
  url: string;
  /** Sent as `Authorization: Bearer <token>` when set. */
  token?: string;
  /** Purges waiting to be sent; a purge past it is dropped (and counted), never waited for. */
  maxQueue: number;
  /** Attempts per request, with exponential backoff between them. */
  attempts: number;
  /** Time limit of one attempt. */
  timeoutMs: number;
  /** By outcome: sent, retried (an attempt failed), failed (every attempt did), dropped (queue full). */
  counter: Counter<'outcome'>;
  log: Logger;
}

export interface CdnPurger {
  /** Queues a purge of `tags` and returns at once: a slow or dead CDN never holds a request. */
  send(tags: readonly string[]): void;
  /** Stops sending: what is queued or being retried is given up. */
  close(): void;
}

/** Fastly takes at most 256 surrogate keys a purge request; queued purges are sent together up to that. */
const MAX_TAGS_PER_REQUEST = 256;

/**
 * Every purge the router makes, passed on to a CDN's purge hook (or a small
 * service of the operator's in front of Fastly, Cloudflare or another CDN),
 * so answers it keeps under those tags (the Surrogate-Key and Cache-Tag
 * headers) go when the router's own copies do. One request at a time, from
 * a bounded queue: purges that wait are merged into the next request.
 */
export function createCdnPurger(options: CdnPurgeOptions): CdnPurger {
  const queue: string[][] = [];
  const stop = new AbortController();
  let sending = false;
  const policy = retry(handleAll, {
    maxAttempts: options.attempts - 1,
    backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 10_000 }),
  });
  policy.onRetry(() => options.counter.inc({ outcome: 'retried' }));
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;

  const post = async (tags: string[], signal: AbortSignal) => {
    const response = await fetch(options.url, {
      method: 'POST',
      headers,
      body: JSON.stringify({ tags }),
      signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
    });
    await response.body?.cancel();
    if (!response.ok) throw new Error(`The CDN purge hook answered ${response.status}`);
  };

  /** The next request's tags: queued purges, merged while they fit. */
  const next = (): string[] => {
    const tags = new Set(queue.shift());
    while (queue.length > 0 && tags.size + queue[0]!.length <= MAX_TAGS_PER_REQUEST)
      for (const tag of queue.shift()!) tags.add(tag);
    return [...tags];
  };

  const drain = async () => {
    sending = true;
    try {
      while (queue.length > 0 && !stop.signal.aborted) {
        const tags = next();
        try {
          await policy.execute(({ signal }) => post(tags, signal), stop.signal);
          options.counter.inc({ outcome: 'sent' });
        } catch (error) {
          if (stop.signal.aborted) return;
          options.counter.inc({ outcome: 'failed' });
          options.log.error(
            { err: error, tags: tags.length, attempts: options.attempts },
            'CDN purge given up; the CDN keeps those answers until they expire',
          );
        }
      }
    } finally {
      sending = false;
    }
  };

  return {
    send(tags) {
      if (tags.length === 0 || stop.signal.aborted) return;
      if (queue.length >= options.maxQueue) {
        options.counter.inc({ outcome: 'dropped' });
        options.log.warn({ tags: tags.length, queued: queue.length }, 'CDN purge dropped: the queue is full');
        return;
      }
      queue.push([...tags]);
      if (!sending) void drain();
    },
    close() {
      stop.abort();
      queue.length = 0;
    },
  };
}
