import type { SubscriptionRow } from '../rows';

export const PlanSubscription = {
  plan: (row: SubscriptionRow) => row.plan.toUpperCase() as Uppercase<SubscriptionRow['plan']>,
  status: (row: SubscriptionRow) => row.status.toUpperCase() as Uppercase<SubscriptionRow['status']>,
  startedAt: (row: SubscriptionRow) => row.started_at,
  canceledAt: (row: SubscriptionRow) => row.canceled_at,
  paidUntil: (row: SubscriptionRow) => row.paid_until,
};
