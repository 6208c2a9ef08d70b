import { env } from '@memegraph/service-kit';
import { z } from 'zod';
import { localProvider } from './local';
import type { BillingProvider } from './provider';
import { stripeProvider } from './stripe';

/** The users subgraph's payment settings, as named in the environment (and .env.example). */
export const billingEnv = {
  /** stripe: Stripe Checkout and its webhooks; local: paid at once (development); unset: paid plans are not sold. */
  BILLING_PROVIDER: z.enum(['local', 'stripe']).optional(),
  STRIPE_SECRET_KEY: z
    .string()
    .regex(/^(sk|rk)_(live|test)_\w+$/, 'must be a Stripe API key (sk_live_..., sk_test_... or a restricted rk_...)')
    .optional(),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .regex(/^whsec_\w+$/, 'must be a webhook signing secret (whsec_...)')
    .optional(),
  STRIPE_PRICE_PREMIUM: z
    .string()
    .regex(/^price_\w+$/, 'must be a Stripe Price id (price_...)')
    .optional(),
  STRIPE_PRICE_ENTERPRISE: z
    .string()
    .regex(/^price_\w+$/, 'must be a Stripe Price id (price_...)')
    .optional(),
  /** Where Stripe sends the viewer after paying, and after giving up. */
  BILLING_SUCCESS_URL: env.url().optional(),
  BILLING_CANCEL_URL: env.url().optional(),
};

type BillingConfig = z.infer<z.ZodObject<typeof billingEnv>>;

/** The provider the settings name, or null; a Stripe setting left out stops the service with its name. */
export function billingProviderOf(config: BillingConfig): BillingProvider | null {
  if (config.BILLING_PROVIDER === 'local') return localProvider();
  if (config.BILLING_PROVIDER !== 'stripe') return null;
  const required = [
    'STRIPE_SECRET_KEY',
    'STRIPE_WEBHOOK_SECRET',
    'STRIPE_PRICE_PREMIUM',
    'STRIPE_PRICE_ENTERPRISE',
    'BILLING_SUCCESS_URL',
    'BILLING_CANCEL_URL',
  ] as const;
  const missing = required.filter((name) => !config[name]);
  if (missing.length)
    throw new Error(
      `Invalid configuration:\n${missing.map((name) => `  ${name}: required with BILLING_PROVIDER=stripe`).join('\n')}`,
    );
  return stripeProvider({
    secretKey: config.STRIPE_SECRET_KEY!,
    webhookSecret: config.STRIPE_WEBHOOK_SECRET!,
    prices: { premium: config.STRIPE_PRICE_PREMIUM!, enterprise: config.STRIPE_PRICE_ENTERPRISE! },
    successUrl: config.BILLING_SUCCESS_URL!,
    cancelUrl: config.BILLING_CANCEL_URL!,
  });
}
