/**
 * Paid plans follow payments. With the Stripe adapter (its API answered by
 * a server of this test's own on 127.0.0.1), `subscribe` starts a Checkout
 * Session and the plan waits; only Stripe's signed webhook (checkout
 * completed, invoice paid, subscription deleted), signed here with the
 * Stripe client's own test helper, makes it active, pays it further or ends
 * it, on every router within a second. A forged, tampered or replayed
 * webhook changes nothing. Without a provider, paid plans are not sold.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stripeProvider, stripeTestSignature } from '@memegraph/users';
import { eventually, signUp, type TestAccount } from './support/accounts';
import { routerClient } from './support/client';
import { startStack, type Stack } from './support/stack';

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('hex')}`;
const SUBSCRIBE = `mutation($p: Tier!) { subscribe(plan: $p) { id plan status url subscription { status } } }`;
const TIER = `{ me { tier subscription { plan status paidUntil } } }`;

interface StripeCall {
  method: string;
  path: string;
  form: URLSearchParams;
}

/** Stripe's API as the adapter uses it: Checkout Sessions made, subscriptions cancelled. */
async function startFakeStripe(): Promise<{
  server: Server;
  port: number;
  calls: StripeCall[];
  /** Answer checkouts as Stripe does for a Price that is not in the account. */
  refuseCheckouts: boolean;
}> {
  const calls: StripeCall[] = [];
  const settings = { refuseCheckouts: false };
  let sessions = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const call = { method: req.method!, path: req.url!, form: new URLSearchParams(body) };
      calls.push(call);
      res.setHeader('content-type', 'application/json');
      if (settings.refuseCheckouts) {
        // As Stripe answers for a Price that is not in the account.
        res.statusCode = 400;
        res.end(
          JSON.stringify({ error: { type: 'invalid_request_error', message: 'No such price: price_enterprise' } }),
        );
        return;
      }
      if (call.method === 'POST' && call.path === '/v1/checkout/sessions') {
        const id = `cs_test_${++sessions}`;
        res.end(JSON.stringify({ id, object: 'checkout.session', url: `https://checkout.stripe.com/c/pay/${id}` }));
        return;
      }
      const cancelled = /^\/v1\/subscriptions\/(\w+)$/.exec(call.path);
      if (call.method === 'DELETE' && cancelled) {
        res.end(JSON.stringify({ id: cancelled[1], object: 'subscription', status: 'canceled' }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'Unrecognized request URL' } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    port,
    calls,
    get refuseCheckouts() {
      return settings.refuseCheckouts;
    },
    set refuseCheckouts(value: boolean) {
      settings.refuseCheckouts = value;
    },
  };
}

let stripe: Awaited<ReturnType<typeof startFakeStripe>>;
let stack: Stack;
let routerB: string;

beforeAll(async () => {
  stripe = await startFakeStripe();
  stack = await startStack({
    users: 5,
    memes: 10,
    billing: stripeProvider({
      secretKey: 'sk_test_memegraph',
      webhookSecret: WEBHOOK_SECRET,
      prices: { premium: 'price_premium', enterprise: 'price_enterprise' },
      successUrl: 'https://memegraph.example/account?paid=1',
      cancelUrl: 'https://memegraph.example/account',
      api: { host: '127.0.0.1', port: stripe.port, protocol: 'http' },
    }),
  });
  routerB = await stack.addRouter();
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await new Promise((resolve) => stripe?.server.close(resolve));
});

/** A Stripe event, as Stripe sends it to the webhook. */
const stripeEvent = (id: string, type: string, object: Record<string, unknown>) =>
  JSON.stringify({ id, object: 'event', type, api_version: '2025-09-30.clover', created: 1, data: { object } });

/** POSTs `payload` to the router's webhook with the given Stripe-Signature (signed with the right secret by default). */
async function webhook(payload: string, signature: string | null = stripeTestSignature(payload, WEBHOOK_SECRET)) {
  const response = await fetch(`${stack.routerUrl}/webhooks/billing`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(signature === null ? {} : { 'stripe-signature': signature }) },
    body: payload,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const tierOn = async (client: TestAccount['client']) =>
  (
    await client<{
      me: { tier: string; subscription: { plan: string; status: string; paidUntil: string | null } | null };
    }>(TIER)
  ).body.data!.me;

const storedEvents = async () =>
  (await stack.dbs.users.query<{ n: number }>('SELECT count(*)::int AS n FROM billing_events'))[0]!.n;

describe('paid plans with Stripe', () => {
  let payer: TestAccount;
  let onB: TestAccount['client'];
  let checkoutId: string;

  it('subscribe starts a Checkout Session, and the plan waits for the payment', async () => {
    payer = await signUp(stack.routerUrl, 'stripe_payer');
    onB = routerClient(routerB, { authorization: `Bearer ${payer.token}` });
    const started = await payer.client<{ subscribe: Record<string, unknown> }>(SUBSCRIBE, { p: 'PREMIUM' });
    expect(started.body.errors).toBeUndefined();
    checkoutId = started.body.data!.subscribe.id as string;
    expect(started.body.data!.subscribe).toEqual({
      id: 'cs_test_1',
      plan: 'PREMIUM',
      status: 'OPEN',
      url: 'https://checkout.stripe.com/c/pay/cs_test_1',
      subscription: null,
    });
    const [created] = stripe.calls.filter((c) => c.path === '/v1/checkout/sessions');
    expect(Object.fromEntries(created!.form)).toMatchObject({
      mode: 'subscription',
      'line_items[0][price]': 'price_premium',
      'line_items[0][quantity]': '1',
      client_reference_id: payer.id,
      success_url: 'https://memegraph.example/account?paid=1',
    });
    // Router B caches the viewer as it is: still free.
    expect(await tierOn(payer.client)).toEqual({ tier: 'FREE', subscription: null });
    expect(await tierOn(onB)).toEqual({ tier: 'FREE', subscription: null });
  });

  it('a checkout Stripe refuses is a coded error, and nothing is stored', async () => {
    stripe.refuseCheckouts = true;
    const refused = await payer.client(SUBSCRIBE, { p: 'ENTERPRISE' }).finally(() => (stripe.refuseCheckouts = false));
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('DOWNSTREAM_SERVICE_ERROR');
    expect(refused.body.errors?.[0]?.message).toBe('The payment provider could not start a checkout; try again');
    const stored = await stack.dbs.users.query('SELECT id FROM checkouts WHERE user_id = $1', [payer.id]);
    expect(stored).toHaveLength(1);
  });

  it('a forged or tampered webhook is refused and changes nothing', async () => {
    const completed = stripeEvent('evt_forged', 'checkout.session.completed', {
      id: checkoutId,
      object: 'checkout.session',
      subscription: 'sub_forged',
    });
    const forged = await webhook(completed, stripeTestSignature(completed, `whsec_${randomBytes(24).toString('hex')}`));
    expect(forged.status).toBe(400);
    expect(forged.body).toMatchObject({ errors: [{ extensions: { code: 'BAD_USER_INPUT' } }] });
    expect((await webhook(completed, null)).status).toBe(400);
    // A signature Stripe made for another body.
    const other = stripeEvent('evt_other', 'customer.created', { id: 'cus_1', object: 'customer' });
    expect((await webhook(completed, stripeTestSignature(other, WEBHOOK_SECRET))).status).toBe(400);
    expect((await webhook(`${completed} `, stripeTestSignature(completed, WEBHOOK_SECRET))).status).toBe(400);

    expect(await storedEvents()).toBe(0);
    expect(await tierOn(payer.client)).toEqual({ tier: 'FREE', subscription: null });
  });

  it('the signed checkout.session.completed makes the plan active on every router within a second; its replay changes nothing', async () => {
    // A payment that has not settled (a bank debit) does not make the plan active yet.
    const unpaid = stripeEvent('evt_unpaid', 'checkout.session.completed', {
      id: checkoutId,
      object: 'checkout.session',
      subscription: 'sub_premium',
      payment_status: 'unpaid',
    });
    expect(await webhook(unpaid)).toEqual({ status: 200, body: { received: true, applied: false } });
    expect((await tierOn(payer.client)).tier).toBe('FREE');

    const completed = stripeEvent('evt_completed', 'checkout.session.completed', {
      id: checkoutId,
      object: 'checkout.session',
      subscription: 'sub_premium',
      client_reference_id: payer.id,
      payment_status: 'paid',
    });
    expect(await webhook(completed)).toEqual({ status: 200, body: { received: true, applied: true } });
    const ms = await eventually(async () => (await tierOn(onB)).tier === 'PREMIUM');
    expect(ms).toBeLessThan(1000);
    expect(await tierOn(payer.client)).toMatchObject({
      tier: 'PREMIUM',
      subscription: { plan: 'PREMIUM', status: 'ACTIVE' },
    });

    // Delivered again (Stripe retries), signed anew: applied once only.
    expect(await webhook(completed)).toEqual({ status: 200, body: { received: true, applied: false } });
    const rows = await stack.dbs.users.query('SELECT id FROM subscriptions WHERE user_id = $1', [payer.id]);
    expect(rows).toHaveLength(1);
  });

  it('invoice.paid pays the plan further', async () => {
    const periodEnd = Math.floor(Date.parse('2027-01-07T00:00:00Z') / 1000);
    const paid = stripeEvent('evt_invoice', 'invoice.paid', {
      id: 'in_1',
      object: 'invoice',
      parent: { type: 'subscription_details', subscription_details: { subscription: 'sub_premium' } },
      lines: { object: 'list', data: [{ id: 'il_1', period: { start: periodEnd - 30 * 86400, end: periodEnd } }] },
    });
    expect(await webhook(paid)).toEqual({ status: 200, body: { received: true, applied: true } });
    expect(await tierOn(payer.client)).toEqual({
      tier: 'PREMIUM',
      subscription: { plan: 'PREMIUM', status: 'ACTIVE', paidUntil: '2027-01-07T00:00:00.000Z' },
    });
  });

  it('cancelSubscription asks Stripe; the plan ends with customer.subscription.deleted, and a replay of the checkout does not bring it back', async () => {
    const cancel = await payer.client<{ cancelSubscription: { status: string } }>(
      `mutation { cancelSubscription { status } }`,
    );
    expect(cancel.body.data!.cancelSubscription).toEqual({ status: 'ACTIVE' });
    expect(stripe.calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toEqual([
      '/v1/subscriptions/sub_premium',
    ]);
    expect((await tierOn(payer.client)).tier).toBe('PREMIUM');

    const deleted = stripeEvent('evt_deleted', 'customer.subscription.deleted', {
      id: 'sub_premium',
      object: 'subscription',
      status: 'canceled',
    });
    expect(await webhook(deleted)).toEqual({ status: 200, body: { received: true, applied: true } });
    const ms = await eventually(async () => (await tierOn(onB)).tier === 'FREE');
    expect(ms).toBeLessThan(1000);

    // Replays of the completed checkout and of the deletion leave the viewer free.
    const completed = stripeEvent('evt_completed', 'checkout.session.completed', {
      id: checkoutId,
      object: 'checkout.session',
      subscription: 'sub_premium',
    });
    expect((await webhook(completed)).body).toEqual({ received: true, applied: false });
    expect((await webhook(deleted)).body).toEqual({ received: true, applied: false });
    expect(await tierOn(payer.client)).toEqual({ tier: 'FREE', subscription: null });
    expect(await tierOn(onB)).toEqual({ tier: 'FREE', subscription: null });
    expect(await storedEvents()).toBe(4);
  });
});

describe('changing plans with Stripe', () => {
  it('a paid new plan replaces the old one, whose Stripe subscription is ended', async () => {
    const changer = await signUp(stack.routerUrl, 'plan_changer');
    /** Subscribes, and has Stripe say the checkout was paid, with this subscription. */
    const pay = async (plan: string, subscription: string) => {
      const started = await changer.client<{ subscribe: { id: string; status: string } }>(SUBSCRIBE, { p: plan });
      expect(started.body.data!.subscribe.status).toBe('OPEN');
      const completed = stripeEvent(`evt_${subscription}`, 'checkout.session.completed', {
        id: started.body.data!.subscribe.id,
        object: 'checkout.session',
        subscription,
        payment_status: 'paid',
      });
      expect((await webhook(completed)).body).toEqual({ received: true, applied: true });
    };
    await pay('PREMIUM', 'sub_first');
    expect((await tierOn(changer.client)).tier).toBe('PREMIUM');

    await pay('ENTERPRISE', 'sub_second');
    expect(await tierOn(changer.client)).toMatchObject({
      tier: 'ENTERPRISE',
      subscription: { plan: 'ENTERPRISE', status: 'ACTIVE' },
    });
    // The first plan is paid no more: its subscription was ended with Stripe.
    expect(stripe.calls.filter((c) => c.method === 'DELETE').map((c) => c.path)).toContain(
      '/v1/subscriptions/sub_first',
    );
    // Stripe's confirmation of that end changes nothing: the new plan stays.
    const deleted = stripeEvent('evt_first_deleted', 'customer.subscription.deleted', {
      id: 'sub_first',
      object: 'subscription',
    });
    expect((await webhook(deleted)).body).toEqual({ received: true, applied: false });
    expect((await tierOn(changer.client)).tier).toBe('ENTERPRISE');
    const plans = await stack.dbs.users.query<{ plan: string; status: string }>(
      'SELECT plan, status FROM subscriptions WHERE user_id = $1 ORDER BY id',
      [changer.id],
    );
    expect(plans).toEqual([
      { plan: 'premium', status: 'canceled' },
      { plan: 'enterprise', status: 'active' },
    ]);
  });
});

describe('without a payment provider', () => {
  let bare: Stack;
  beforeAll(async () => {
    bare = await startStack({ users: 2, memes: 2, billing: null });
  }, 60_000);
  afterAll(async () => bare?.close());

  it('subscribe is refused with a coded error, and the webhook applies nothing', async () => {
    const viewer = await signUp(bare.routerUrl, 'no_shop');
    const refused = await viewer.client(SUBSCRIBE, { p: 'PREMIUM' });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(refused.body.errors?.[0]?.message).toMatch(/BILLING_PROVIDER/);
    const response = await fetch(`${bare.routerUrl}/webhooks/billing`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect(response.status).toBe(404);
    expect((await tierOn(viewer.client)).tier).toBe('FREE');
  });
});
