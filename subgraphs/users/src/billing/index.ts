export { Billing, type CheckoutRow, type Received } from './billing';
export { billingEnv, billingProviderOf } from './config';
export { localProvider } from './local';
export {
  WebhookSignatureError,
  type BillingEvent,
  type BillingProvider,
  type PaidPlan,
  type SignedEvent,
} from './provider';
export { stripeProvider, stripeTestSignature, type StripeSettings } from './stripe';
