/**
 * Payment providers, as the users subgraph needs them: start a checkout for
 * a paid plan, end a subscription, and read the events of a signed webhook.
 * A plan changes only with such an event (see billing.ts), whichever
 * provider sent it.
 */

export type PaidPlan = 'premium' | 'enterprise';

/** A webhook's body, exactly as it came, and its signature header. */
export interface SignedEvent {
  payload: string;
  signature: string;
}

/** What a webhook event means for a plan; `other` for an event Memegraph does not act on. */
export type BillingEvent = { id: string } & (
  | { type: 'checkout.completed'; checkoutId: string; subscriptionId: string; paidUntil?: Date }
  | { type: 'invoice.paid'; subscriptionId: string; paidUntil?: Date }
  | { type: 'subscription.deleted'; subscriptionId: string }
  | { type: 'other'; name: string }
);

export interface StartedCheckout {
  /** The provider's reference of the checkout. */
  id: string;
  /** Where the viewer pays; null when the provider completes at once. */
  url: string | null;
  /** The provider's own event, signed, when it completed at once. */
  completed?: SignedEvent;
}

export interface BillingProvider {
  /** Stored with each checkout, subscription and event. */
  readonly name: 'local' | 'stripe';
  startCheckout(input: { userId: string; plan: PaidPlan }): Promise<StartedCheckout>;
  /**
   * Asks the provider to end a subscription. The plan ends with the
   * provider's `subscription.deleted` event: returned here by a provider
   * that ends at once, sent to the webhook later by the others.
   */
  cancel(subscriptionId: string): Promise<SignedEvent | undefined>;
  /** The event of a webhook whose signature is the provider's; throws WebhookSignatureError otherwise. */
  verify(payload: string, signature: string | undefined): BillingEvent;
}

/** A webhook not signed by the provider (or too old to be believed). */
export class WebhookSignatureError extends Error {}
