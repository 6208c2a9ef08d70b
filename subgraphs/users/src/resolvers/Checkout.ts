import type { CheckoutRow } from '../billing/billing';
import type { UsersContext } from '../context';
import { SUBSCRIPTION_COLUMNS, type SubscriptionRow } from '../rows';

export const Checkout = {
  plan: (row: CheckoutRow) => row.plan.toUpperCase() as Uppercase<CheckoutRow['plan']>,
  status: (row: CheckoutRow) => row.status.toUpperCase() as Uppercase<CheckoutRow['status']>,
  startedAt: (row: CheckoutRow) => row.started_at,
  subscription: async (row: CheckoutRow, _args: unknown, context: UsersContext) => {
    if (row.status !== 'completed') return null;
    const [subscription] = await context.db.query<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE checkout_id = $1`,
      [row.id],
    );
    return subscription ?? null;
  },
};
