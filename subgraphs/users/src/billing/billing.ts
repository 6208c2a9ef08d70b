import { ErrorCode, codedError, withDbViewer, type Db, type Logger, type Queryable } from '@memegraph/service-kit';
import { SUBSCRIPTION_COLUMNS, type SubscriptionRow } from '../rows';
import type { BillingEvent, BillingProvider, PaidPlan, SignedEvent } from './provider';

export interface CheckoutRow {
  id: string;
  provider: string;
  user_id: string;
  plan: PaidPlan;
  status: 'open' | 'completed';
  url: string | null;
  started_at: Date;
  completed_at: Date | null;
}

export const CHECKOUT_COLUMNS = 'id, provider, user_id, plan, status, url, started_at, completed_at';

/** What a webhook event did: `userId` names the user whose plan changed, if one did. */
export interface Received {
  /** False for a replay (the event id was applied before) and for events that concern no plan. */
  applied: boolean;
  userId?: string;
}

/** Ends a user's active plan here; the caller holds the user's lock. */
export async function cancelActive(tx: Queryable, userId: string): Promise<SubscriptionRow | null> {
  const [row] = await tx.query<SubscriptionRow>(
    `UPDATE subscriptions SET status = 'canceled', canceled_at = now()
     WHERE user_id = $1 AND status = 'active' RETURNING ${SUBSCRIPTION_COLUMNS}`,
    [userId],
  );
  return row ?? null;
}

/**
 * Paid plans that follow payments. `subscribe` starts a checkout with the
 * provider; a plan becomes active, is paid further, or ends only when the
 * provider's signed event says so (`receive`), each event applied once.
 */
export class Billing {
  constructor(
    private readonly db: Db,
    private readonly provider: BillingProvider | null,
    private readonly log: Logger,
  ) {}

  /** Whether a payment provider is configured. */
  get enabled(): boolean {
    return this.provider !== null;
  }

  private get configured(): BillingProvider {
    if (!this.provider)
      throw codedError(
        ErrorCode.FORBIDDEN,
        'Paid plans are not on sale here: no payment provider is configured (BILLING_PROVIDER)',
      );
    return this.provider;
  }

  /** Starts a checkout of `plan` for a user; with a provider that completes at once, the plan is active on return. */
  async startCheckout(userId: string, plan: PaidPlan): Promise<CheckoutRow> {
    const provider = this.configured;
    const started = await provider.startCheckout({ userId, plan }).catch((error: unknown) => {
      this.log.error({ err: error, provider: provider.name }, 'the payment provider did not start a checkout');
      throw codedError(
        ErrorCode.DOWNSTREAM_SERVICE_ERROR,
        'The payment provider could not start a checkout; try again',
      );
    });
    await this.db.query(`INSERT INTO checkouts (id, provider, user_id, plan, url) VALUES ($1, $2, $3, $4, $5)`, [
      started.id,
      provider.name,
      userId,
      plan,
      started.url,
    ]);
    if (started.completed) await this.receive(started.completed);
    const [row] = await this.db.query<CheckoutRow>(`SELECT ${CHECKOUT_COLUMNS} FROM checkouts WHERE id = $1`, [
      started.id,
    ]);
    return row!;
  }

  /**
   * Asks the provider to end the user's plan. A plan without a provider's
   * subscription behind it (made before payments) ends here and now.
   * Returns the plan as it stands after.
   */
  async cancel(userId: string): Promise<SubscriptionRow | null> {
    const [active] = await this.db.primary.query<
      SubscriptionRow & { provider: string | null; provider_subscription_id: string | null }
    >(
      `SELECT ${SUBSCRIPTION_COLUMNS}, provider, provider_subscription_id FROM subscriptions WHERE user_id = $1 AND status = 'active'`,
      [userId],
    );
    if (!active) return null;
    if (!active.provider || !active.provider_subscription_id) return cancelActive(this.db, userId);
    const provider = this.configured;
    if (active.provider !== provider.name)
      throw codedError(ErrorCode.BAD_USER_INPUT, `This plan is billed by ${active.provider}: cancel it there`);
    const ended = await provider.cancel(active.provider_subscription_id).catch((error: unknown) => {
      this.log.error({ err: error, provider: provider.name }, 'the payment provider did not end a subscription');
      throw codedError(ErrorCode.DOWNSTREAM_SERVICE_ERROR, 'The payment provider could not end the plan; try again');
    });
    if (ended) await this.receive(ended);
    const [row] = await this.db.query<SubscriptionRow>(
      `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1`,
      [active.id],
    );
    return row ?? null;
  }

  /**
   * Applies one signed webhook event, once: the event id is stored with the
   * change, in one transaction, so a replay (or a concurrent second
   * delivery, which waits on the first) changes nothing. Throws
   * WebhookSignatureError for a payload the provider did not sign.
   */
  async receive({ payload, signature }: SignedEvent): Promise<Received> {
    const provider = this.configured;
    const event = provider.verify(payload, signature);
    const outcome = await this.db.transaction(async (tx) => {
      const [fresh] = await tx.query(
        `INSERT INTO billing_events (provider, id, type) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING id`,
        [provider.name, event.id, event.type === 'other' ? event.name : event.type],
      );
      if (!fresh) return { applied: false };
      return apply(tx, provider.name, event);
    });
    // The user's own reads see the change at once, from read replicas too.
    if (outcome.userId) await withDbViewer(outcome.userId, () => this.db.replicas?.wrote());
    if (outcome.replaced) {
      // The plan it replaced is paid no more: its subscription ends with the provider too.
      const replaced = outcome.replaced;
      await provider
        .cancel(replaced)
        .then((ended) => ended && this.receive(ended))
        .catch((error: unknown) =>
          this.log.error(
            { err: error, subscription: replaced },
            'a replaced plan could not be ended with the provider',
          ),
        );
    }
    if (outcome.applied)
      this.log.info({ event: event.id, type: event.type, user: outcome.userId }, 'billing event applied');
    return { applied: outcome.applied, ...(outcome.userId ? { userId: outcome.userId } : {}) };
  }
}

async function apply(tx: Queryable, provider: string, event: BillingEvent): Promise<Received & { replaced?: string }> {
  switch (event.type) {
    case 'checkout.completed': {
      const [checkout] = await tx.query<CheckoutRow>(
        `UPDATE checkouts SET status = 'completed', completed_at = now(), url = NULL
         WHERE id = $1 AND provider = $2 AND status = 'open' RETURNING ${CHECKOUT_COLUMNS}`,
        [event.checkoutId, provider],
      );
      if (!checkout) return { applied: false };
      // Lock the user so concurrent plan changes for one user take turns.
      await tx.query('SELECT id FROM users WHERE id = $1 FOR UPDATE', [checkout.user_id]);
      const [previous] = await tx.query<{ provider: string | null; provider_subscription_id: string | null }>(
        `UPDATE subscriptions SET status = 'canceled', canceled_at = now()
         WHERE user_id = $1 AND status = 'active' RETURNING provider, provider_subscription_id`,
        [checkout.user_id],
      );
      await tx.query(
        `INSERT INTO subscriptions (user_id, plan, status, provider, provider_subscription_id, checkout_id, paid_until)
         VALUES ($1, $2, 'active', $3, $4, $5, $6)`,
        [checkout.user_id, checkout.plan, provider, event.subscriptionId, checkout.id, event.paidUntil ?? null],
      );
      const replaced =
        previous?.provider === provider && previous.provider_subscription_id
          ? previous.provider_subscription_id
          : undefined;
      return { applied: true, userId: checkout.user_id, ...(replaced ? { replaced } : {}) };
    }
    case 'invoice.paid': {
      const [row] = await tx.query<{ user_id: string }>(
        `UPDATE subscriptions SET paid_until = GREATEST(paid_until, $3::timestamptz)
         WHERE provider = $1 AND provider_subscription_id = $2 AND status = 'active' RETURNING user_id`,
        [provider, event.subscriptionId, event.paidUntil ?? null],
      );
      return row ? { applied: true, userId: row.user_id } : { applied: false };
    }
    case 'subscription.deleted': {
      const [row] = await tx.query<{ user_id: string }>(
        `UPDATE subscriptions SET status = 'canceled', canceled_at = now()
         WHERE provider = $1 AND provider_subscription_id = $2 AND status = 'active' RETURNING user_id`,
        [provider, event.subscriptionId],
      );
      return row ? { applied: true, userId: row.user_id } : { applied: false };
    }
    default:
      return { applied: false };
  }
}
