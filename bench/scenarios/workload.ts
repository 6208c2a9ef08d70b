import { servedWithoutErrors, type ResponseCheck } from '../lib/load';

/** A typical anonymous read that crosses subgraphs: memes, then users for the authors. */
export const TRENDING = '{ trending(first: 10) { id title score author { handle } template { name } } }';

/** Limits far above what the load reaches, so the router does all its work and refuses nothing. */
export const UNLIMITED_ANONYMOUS = JSON.stringify({
  anonymous: {
    requestsPerMinute: 100_000_000,
    dailyRequestQuota: 1_000_000_000,
    costBucketCapacity: 1_000_000_000,
    costRestorePerSecond: 1_000_000_000,
    maxCostPerOperation: 100_000,
  },
});

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
