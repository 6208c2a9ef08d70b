import { expect } from 'vitest';
import { routerClient } from './client';

export interface TestAccount {
  id: string;
  token: string;
  /** A client of `routerUrl` signed in as this account. */
  client: ReturnType<typeof routerClient>;
}

type RouterClient = ReturnType<typeof routerClient>;

/**
 * Puts a signed-in viewer on a paid plan: `subscribe` starts the checkout,
 * which the stacks' payment provider (the built-in local one, as with `npm
 * start`) completes at once. Fails the test unless the plan is active.
 */
export async function subscribeTo(client: RouterClient, plan: 'PREMIUM' | 'ENTERPRISE'): Promise<void> {
  const response = await client<{
    subscribe: { status: string; subscription: { plan: string; status: string } | null };
  }>(`mutation($p: Tier!) { subscribe(plan: $p) { status subscription { plan status } } }`, { p: plan });
  expect(response.body.errors).toBeUndefined();
  expect(response.body.data!.subscribe).toEqual({ status: 'COMPLETED', subscription: { plan, status: 'ACTIVE' } });
}

/** Signs up a new account through the router and optionally puts it on a paid plan. */
export async function signUp(routerUrl: string, handle: string, plan?: 'PREMIUM' | 'ENTERPRISE'): Promise<TestAccount> {
  const response = await routerClient(routerUrl)<{ signUp: { token: string; user: { id: string } } }>(
    `mutation($h: String!) { signUp(handle: $h, password: "a long test password") { token user { id } } }`,
    { h: handle },
  );
  expect(response.body.errors).toBeUndefined();
  const { token, user } = response.body.data!.signUp;
  const client = routerClient(routerUrl, { authorization: `Bearer ${token}` });
  if (plan) await subscribeTo(client, plan);
  return { id: user.id, token, client };
}

/** Polls `check` until it passes or `timeoutMs` is up; returns how long it took. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 1000, stepMs = 20): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return Date.now() - started;
}
