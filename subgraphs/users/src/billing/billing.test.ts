import { readConfig } from '@memegraph/service-kit';
import { describe, expect, it } from 'vitest';
import { billingEnv, billingProviderOf } from './config';
import { localProvider } from './local';
import { WebhookSignatureError } from './provider';

describe('billing settings', () => {
  it('without BILLING_PROVIDER nothing is sold', () => {
    expect(billingProviderOf(readConfig(billingEnv, {}))).toBeNull();
  });

  it('stripe names each setting it lacks, and refuses placeholders', () => {
    expect(() => billingProviderOf(readConfig(billingEnv, { BILLING_PROVIDER: 'stripe' }))).toThrow(
      /STRIPE_SECRET_KEY: required[\s\S]*BILLING_CANCEL_URL: required/,
    );
    expect(() => readConfig(billingEnv, { STRIPE_SECRET_KEY: 'CHANGE_ME', STRIPE_PRICE_PREMIUM: 'CHANGE_ME' })).toThrow(
      /STRIPE_SECRET_KEY: must be a Stripe API key[\s\S]*STRIPE_PRICE_PREMIUM: must be a Stripe Price id/,
    );
    const stripe = billingProviderOf(
      readConfig(billingEnv, {
        BILLING_PROVIDER: 'stripe',
        STRIPE_SECRET_KEY: 'sk_test_abc',
        STRIPE_WEBHOOK_SECRET: 'whsec_abc',
        STRIPE_PRICE_PREMIUM: 'price_p',
        STRIPE_PRICE_ENTERPRISE: 'price_e',
        BILLING_SUCCESS_URL: 'https://memegraph.example/paid',
        BILLING_CANCEL_URL: 'https://memegraph.example/account',
      }),
    );
    expect(stripe?.name).toBe('stripe');
  });
});

describe('the local provider', () => {
  it('completes a checkout with an event only it could sign', async () => {
    let now = Date.parse('2026-12-07T00:00:00Z');
    const provider = localProvider({ now: () => now });
    const started = await provider.startCheckout({ userId: '1', plan: 'premium' });
    expect(started.url).toBeNull();
    const event = provider.verify(started.completed!.payload, started.completed!.signature);
    expect(event).toMatchObject({ type: 'checkout.completed', checkoutId: started.id });

    // Another process's key, a changed body, no signature, or an event too old: refused.
    const other = localProvider({ now: () => now });
    expect(() => other.verify(started.completed!.payload, started.completed!.signature)).toThrow(WebhookSignatureError);
    const tampered = started.completed!.payload.replace('checkout.completed', 'subscription.deleted');
    expect(() => provider.verify(tampered, started.completed!.signature)).toThrow(WebhookSignatureError);
    expect(() => provider.verify(started.completed!.payload, undefined)).toThrow(WebhookSignatureError);
    now += 301_000;
    expect(() => provider.verify(started.completed!.payload, started.completed!.signature)).toThrow(/too old/);
  });
});
