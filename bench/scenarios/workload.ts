import { randomBytes } from 'node:crypto';
import type { Target, TargetResult, TargetSpec } from '../lib/bench';
import { graphqlRequest, servedWithoutErrors, type HttpRequest, type ResponseCheck } from '../lib/load';

/** A typical anonymous read that crosses subgraphs: memes, then users for the authors. */
export const TRENDING = '{ trending(first: 10) { id title score author { handle } template { name } } }';

/** Limits far above what the load reaches, so the router does all its work and refuses nothing. */
const UNLIMITED = {
  requestsPerMinute: 100_000_000,
  dailyRequestQuota: 1_000_000_000,
  costBucketCapacity: 1_000_000_000,
  costRestorePerSecond: 1_000_000_000,
};

/** Anonymous viewers, out of reach of every limit. */
export const UNLIMITED_ANONYMOUS = JSON.stringify({ anonymous: { ...UNLIMITED, maxCostPerOperation: 100_000 } });

/** Signed-in viewers of every tier, out of reach of the request rate, daily quota and cost bucket. */
export const UNLIMITED_SIGNED_IN = JSON.stringify({ free: UNLIMITED, premium: UNLIMITED, enterprise: UNLIMITED });

/** Ten trending memes, each with its author's handle and template's name. */
export const tenTrendingMemes: ResponseCheck = (status, body, headers) => {
  const problem = servedWithoutErrors(status, body, headers);
  if (problem) return problem;
  const trending = (body as { data: { trending?: unknown } }).data.trending;
  if (!Array.isArray(trending) || trending.length !== 10) return 'trending is not a list of 10';
  const complete = trending.every((meme: unknown) => {
    const m = meme as { id?: unknown; author?: { handle?: unknown } | null; template?: { name?: unknown } | null };
    return typeof m.id === 'string' && typeof m.author?.handle === 'string' && typeof m.template?.name === 'string';
  });
  return complete ? null : 'a meme lacks its id, author handle or template name';
};

/**
 * Every request carries a variable of its own, which the operation does not
 * declare and execution ignores: the document (and so the parse, validation,
 * plan and analysis caches) stays the same, but no response cache keyed on
 * the variables can answer it. Both servers execute every request.
 */
export function distinctRequests(query: string): HttpRequest {
  const run = randomBytes(4).toString('hex');
  let sequence = 0;
  return graphqlRequest(query, () => ({ benchRequest: `${run}-${sequence++}` }));
}

/** The answer was executed, not served from the response cache; and is what `check` wants. */
export const executed =
  (check: ResponseCheck): ResponseCheck =>
  (status, body, headers) =>
    headers.get('x-cache') === 'HIT'
      ? 'served from the response cache: this scenario measures execution'
      : check(status, body, headers);

/**
 * The ceiling beside `router`: node:http answering `request` with the
 * router's checked answer, byte for byte, which `check` then checks again.
 * Nothing serving that answer can be faster on this machine.
 */
export const ceilingOf = (router: Target, request: HttpRequest, check: ResponseCheck): TargetSpec => ({
  name: 'ceiling',
  description: 'node:http writing the router’s answer bytes',
  server: 'ceiling',
  env: { BENCH_BODY_BASE64: router.sample.body.toString('base64'), BENCH_CONTENT_TYPE: router.sample.contentType },
  request,
  check,
});

/** What a router costs the machine per request beyond the baseline: its own CPU and the Redis work it causes. */
export const extraCpuMicrosPerRequest = (target: TargetResult, baseline: TargetResult): number =>
  target.cpuMicrosPerRequest.server +
  target.cpuMicrosPerRequest.redis -
  baseline.cpuMicrosPerRequest.server -
  baseline.cpuMicrosPerRequest.redis;
