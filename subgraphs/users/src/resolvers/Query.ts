import { TIERS, forbidden, viewerUserId } from '@memegraph/service-kit';
import type { UsersContext } from '../context';
import { toGraphQLTier } from './tier';

export const Query = {
  me: (_root: unknown, _args: unknown, context: UsersContext) => {
    const userId = viewerUserId(context.viewer);
    return userId ? context.loaders.userById.load(userId) : null;
  },
  user: (_root: unknown, args: { id: string }, context: UsersContext) =>
    /^\d{1,18}$/.test(args.id) ? context.loaders.userById.load(args.id) : null,
  /** The router answers this field itself; reaching a subgraph means the call did not come through a router. */
  rateLimit: () => {
    throw forbidden('Query.rateLimit is answered by the router');
  },
  plans: (_root: unknown, _args: unknown, context: UsersContext) =>
    TIERS.map((tier) => {
      const limits = context.config.tiers[tier];
      return {
        tier: toGraphQLTier(tier),
        name: limits.name,
        monthlyPriceCents: limits.monthlyPriceCents,
        requestsPerMinute: limits.requestsPerMinute,
        maxCostPerOperation: limits.maxCostPerOperation,
        aiGenerationsPerMinute: limits.aiGenerationsPerMinute,
        scopes: limits.scopes,
      };
    }),
};
