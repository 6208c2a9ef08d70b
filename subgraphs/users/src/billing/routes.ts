import { ErrorCode, badUserInput, codedError, internalRoute, type Route } from '@memegraph/service-kit';
import type { Billing } from './billing';
import { WebhookSignatureError } from './provider';

/**
 * `POST /internal/billing/webhook` with `{ payload, signature }`: a payment
 * provider's webhook as the router received it at `/webhooks/billing` (the
 * body exactly as sent, and its signature header). Answers `{ applied,
 * userId? }`; the router then drops that user's cached entitlement on every
 * router. A payload the provider did not sign is a BAD_USER_INPUT; without
 * a provider, every call is a NOT_FOUND.
 */
export function billingWebhookRoute(billing: Billing): Route {
  return internalRoute('POST', /^\/internal\/billing\/webhook$/, async ({ body }) => {
    if (!billing.enabled) throw codedError(ErrorCode.NOT_FOUND, 'No payment provider is configured (BILLING_PROVIDER)');
    const input = (body ?? {}) as { payload?: unknown; signature?: unknown };
    if (typeof input.payload !== 'string' || (input.signature !== undefined && typeof input.signature !== 'string'))
      throw badUserInput('Send { payload, signature } as strings');
    try {
      return await billing.receive({ payload: input.payload, signature: input.signature ?? '' });
    } catch (error) {
      if (error instanceof WebhookSignatureError)
        throw badUserInput(`The webhook's signature does not check out: ${error.message}`);
      throw error;
    }
  });
}
