import type { Tier } from '@memegraph/service-kit';
import type { SubscriptionRow } from '../rows';

export const toGraphQLTier = (tier: Tier) => tier.toUpperCase() as Uppercase<Tier>;
export const tierOf = (subscription: SubscriptionRow | null): Tier => subscription?.plan ?? 'free';
