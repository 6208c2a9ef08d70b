import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { BillingEvent, BillingProvider, SignedEvent } from './provider';
import { WebhookSignatureError } from './provider';

/** How old a signed event may be; as Stripe's default tolerance. */
const TOLERANCE_SECONDS = 300;

/**
 * The built-in provider of `npm start`: every checkout is paid at once and
 * every cancellation takes effect at once. It still speaks in signed events,
 * so a plan changes the same way as with a real provider: only with an
 * event whose signature checks out (`t=<seconds>,v1=<HMAC-SHA256 of
 * "t.payload">`, under a key of this process's own, which nothing outside
 * it knows).
 */
export function localProvider(options: { secret?: Uint8Array; now?: () => number } = {}): BillingProvider {
  const secret = options.secret ?? randomBytes(32);
  const now = options.now ?? Date.now;
  const mac = (timestamp: string, payload: string) =>
    createHmac('sha256', secret).update(`${timestamp}.${payload}`).digest();
  const sign = (event: Record<string, unknown>): SignedEvent => {
    const payload = JSON.stringify({ id: `local_evt_${randomUUID()}`, ...event });
    const timestamp = String(Math.floor(now() / 1000));
    return { payload, signature: `t=${timestamp},v1=${mac(timestamp, payload).toString('hex')}` };
  };
  return {
    name: 'local',
    async startCheckout() {
      const id = `local_cs_${randomUUID()}`;
      return {
        id,
        url: null,
        completed: sign({ type: 'checkout.completed', checkoutId: id, subscriptionId: `local_sub_${randomUUID()}` }),
      };
    },
    async cancel(subscriptionId) {
      return sign({ type: 'subscription.deleted', subscriptionId });
    },
    verify(payload, signature) {
      const parts = new Map((signature ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
      const timestamp = parts.get('t') ?? '';
      const given = Buffer.from(parts.get('v1') ?? '', 'hex');
      const expected = mac(timestamp, payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected))
        throw new WebhookSignatureError('The signature is not the local provider’s');
      if (Math.abs(now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS)
        throw new WebhookSignatureError('The signed event is too old');
      return JSON.parse(payload) as BillingEvent;
    },
  };
}
