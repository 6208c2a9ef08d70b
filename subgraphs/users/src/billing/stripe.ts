import Stripe from 'stripe';
import type { BillingEvent, BillingProvider, PaidPlan } from './provider';
import { WebhookSignatureError } from './provider';

export interface StripeSettings {
  /** The API key (`sk_live_…`, `sk_test_…`). */
  secretKey: string;
  /** The signing secret of the webhook endpoint (`whsec_…`). */
  webhookSecret: string;
  /** The Stripe Price (`price_…`) of each paid plan, billed monthly. */
  prices: Record<PaidPlan, string>;
  /** Where Stripe sends the viewer after paying, and after giving up. */
  successUrl: string;
  cancelUrl: string;
  /** Another address for Stripe's API (a test's own server); Stripe's by default. */
  api?: { host: string; port: number; protocol: 'http' | 'https' };
}

/**
 * The `Stripe-Signature` header Stripe would send with `payload`, made with
 * the Stripe client's own test helper: for tests and local tries of the
 * webhook (the Stripe CLI's `stripe trigger` does the same against Stripe).
 */
export function stripeTestSignature(payload: string, webhookSecret: string): string {
  return new Stripe('sk_test_signature_only').webhooks.generateTestHeaderString({ payload, secret: webhookSecret });
}

const seconds = (value: number | null | undefined) => (value ? new Date(value * 1000) : undefined);
const idOf = (value: string | { id: string } | null | undefined) =>
  typeof value === 'string' ? value : (value?.id ?? undefined);

/**
 * Stripe through its official client: a Checkout Session in subscription
 * mode per checkout, and webhooks checked with `stripe.webhooks.constructEvent`
 * (an HMAC over the raw body under the endpoint's secret, within Stripe's
 * 5-minute tolerance; no call to Stripe).
 */
export function stripeProvider(settings: StripeSettings): BillingProvider {
  const stripe = new Stripe(settings.secretKey, {
    maxNetworkRetries: 2,
    timeout: 10_000,
    ...(settings.api ?? {}),
  });
  return {
    name: 'stripe',
    async startCheckout({ userId, plan }) {
      const session = await stripe.checkout.sessions.create({
        mode: 'subscription',
        line_items: [{ price: settings.prices[plan], quantity: 1 }],
        client_reference_id: userId,
        metadata: { userId, plan },
        subscription_data: { metadata: { userId, plan } },
        success_url: settings.successUrl,
        cancel_url: settings.cancelUrl,
      });
      return { id: session.id, url: session.url };
    },
    async cancel(subscriptionId) {
      await stripe.subscriptions.cancel(subscriptionId);
      return undefined;
    },
    verify(payload, signature): BillingEvent {
      let event: Stripe.Event;
      try {
        event = stripe.webhooks.constructEvent(payload, signature ?? '', settings.webhookSecret);
      } catch (error) {
        throw new WebhookSignatureError((error as Error).message);
      }
      switch (event.type) {
        case 'checkout.session.completed':
        case 'checkout.session.async_payment_succeeded': {
          // A payment that settles later (a bank debit) completes with its own event.
          if (event.data.object.payment_status === 'unpaid') break;
          const subscriptionId = idOf(event.data.object.subscription);
          if (subscriptionId)
            return { id: event.id, type: 'checkout.completed', checkoutId: event.data.object.id, subscriptionId };
          break;
        }
        case 'invoice.paid': {
          const invoice = event.data.object;
          const subscriptionId = idOf(invoice.parent?.subscription_details?.subscription);
          const period = invoice.lines?.data?.[0]?.period;
          if (subscriptionId)
            return { id: event.id, type: 'invoice.paid', subscriptionId, paidUntil: seconds(period?.end) };
          break;
        }
        case 'customer.subscription.deleted':
          return { id: event.id, type: 'subscription.deleted', subscriptionId: event.data.object.id };
      }
      return { id: event.id, type: 'other', name: event.type };
    },
  };
}
