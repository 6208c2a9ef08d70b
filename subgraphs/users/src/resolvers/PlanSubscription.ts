import type { SubscriptionRow } from '../rows';

export const PlanSubscription = {
  plan: (row: SubscriptionRow) => row.plan.toUpperCase(),
  status: (row: SubscriptionRow) => row.status.toUpperCase(),
  startedAt: (row: SubscriptionRow) => row.started_at,
  canceledAt: (row: SubscriptionRow) => row.canceled_at,
};
