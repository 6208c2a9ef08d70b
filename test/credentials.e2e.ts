import { randomBytes } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUp } from './support/accounts';
import { routerClient, type GraphQLResponse } from './support/client';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

/** Failed credentials an address may send before it is refused (AUTH_FAILURES_PER_ADDRESS). */
const FAILURES_PER_ADDRESS = 20;

/** Failed log-ins an address may make before each further failure is followed by a wait. */
const LOGIN_FAILURES_PER_ADDRESS = 6;
/** The users subgraph's default for one handle. */
const LOGIN_FAILURES_PER_HANDLE = 5;

beforeAll(async () => {
  stack = await startStack({
    users: 5,
    memes: 20,
    // The tests speak for many client addresses through X-Forwarded-For, as a load balancer on loopback would.
    routerEnv: { TRUST_PROXY: 'loopback', AUTH_FAILURES_PER_ADDRESS: String(FAILURES_PER_ADDRESS) },
    // Under the router's @rateLimit of logIn (10 a minute per address), so that the users subgraph's own limit is what answers.
    loginThrottle: { failuresPerAddress: LOGIN_FAILURES_PER_ADDRESS },
  });
});
afterAll(() => stack?.close());

const randomKey = () => `mg_${randomBytes(24).toString('base64url')}`;
const from = (address: string, headers: Record<string, string> = {}) =>
  routerClient(stack.routerUrl, { 'x-forwarded-for': address, ...headers });
/** A client of `routerUrl` with a session token, from an address of the test's own. */
const session = (routerUrl: string, token: string, address: string) =>
  routerClient(routerUrl, { authorization: `Bearer ${token}`, 'x-forwarded-for': address });
/** SQL statements the users subgraph has run: each credential lookup is one. */
const usersStatements = () => stack.dbs.users.stats.statements;

/** Runs `tasks` with at most `width` in flight, in order. */
async function inParallel<T>(count: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

const outcomes = (responses: GraphQLResponse[]) => {
  const counts: Record<string, number> = {};
  for (const r of responses) {
    const key = `${r.status} ${r.body.errors?.[0]?.extensions?.code ?? 'ok'}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

describe('invalid credentials are limited per client address before any lookup', () => {
  it('an unknown key is remembered: sent from 40 addresses it is looked up once, and each gets 401', async () => {
    const key = randomKey();
    const before = usersStatements();
    for (let i = 1; i <= 40; i++) {
      const response = await from(`192.0.2.${i}`, { 'x-api-key': key })(`{ plans { tier } }`);
      expect(response.status).toBe(401);
      expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    }
    expect(usersStatements() - before).toBe(1);
  });

  it('600 random API keys from one address: 429 RATE_LIMIT_EXCEEDED with Retry-After after the allowance, a bounded number of lookups; another address is served', async () => {
    // No signed-in request before the flood: a usage flush would be a statement of its own.
    const before = usersStatements();
    const flood = 600;
    const responses = await inParallel(flood, 50, () =>
      from('203.0.113.66', { 'x-api-key': randomKey() })(`{ plans { tier } }`),
    );
    const lookups = usersStatements() - before;
    const counts = outcomes(responses);

    const refused = responses.filter((r) => r.status === 429);
    expect(refused.length, `${JSON.stringify(counts)}, ${lookups} lookups`).toBeGreaterThanOrEqual(
      flood - FAILURES_PER_ADDRESS,
    );
    expect(Object.keys(counts).sort()).toEqual(['401 UNAUTHENTICATED', '429 RATE_LIMIT_EXCEEDED']);
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(lookups, `users subgraph statements for ${flood} random keys`).toBeLessThanOrEqual(FAILURES_PER_ADDRESS);

    const owner = await signUp(stack.routerUrl, 'key_owner');
    const created = await owner.client<{ createApiKey: { secret: string } }>(
      `mutation { createApiKey(name: "ci") { secret } }`,
    );
    const validKey = created.body.data!.createApiKey.secret;
    // A valid key from another address is not caught by that address's refusals.
    const served = await from('198.51.100.20', { 'x-api-key': validKey })<{ me: { id: string } }>(`{ me { id } }`);
    expect(served.status).toBe(200);
    expect(served.body.data!.me.id).toBe(owner.id);
    // The flooding address itself is still refused, even with a credential never seen before.
    const still = await from('203.0.113.66', { 'x-api-key': randomKey() })(`{ plans { tier } }`);
    expect(still.status).toBe(429);
  });
});

describe('a burst of good credentials from one address is served', () => {
  it('100 concurrent requests with a new session token and 100 with a new API key, on cold caches: every one 200, one lookup each', async () => {
    const burst = 100;
    const owner = await signUp(stack.routerUrl, 'burst_owner');
    const created = await owner.client<{ createApiKey: { secret: string } }>(
      `mutation { createApiKey(name: "burst") { secret } }`,
    );
    const key = created.body.data!.createApiKey.secret;
    // A router of its own: neither credential is in its caches yet.
    const router = await stack.addRouter();
    const address = '203.0.113.99';
    const before = usersStatements();
    const bySession = await Promise.all(
      Array.from({ length: burst }, () => session(router, owner.token, address)(`{ me { id } }`)),
    );
    const byKey = await Promise.all(
      Array.from({ length: burst }, () =>
        routerClient(router, { 'x-api-key': key, 'x-forwarded-for': address })(`{ me { id } }`),
      ),
    );
    expect(outcomes(bySession)).toEqual({ '200 ok': burst });
    expect(outcomes(byKey)).toEqual({ '200 ok': burst });
    // A lookup per credential (and the background's usage and last-used writes), not one per request.
    expect(usersStatements() - before).toBeLessThan(burst / 4);
  });
});

describe('sessions end on every router', () => {
  const ME = `{ me { id } }`;
  let routerB: string;
  beforeAll(async () => {
    routerB = await stack.addRouter();
  });

  const logIn = async (handle: string, password: string, address: string) => {
    const response = await routerClient(stack.routerUrl, { 'x-forwarded-for': address })<{ logIn: { token: string } }>(
      `mutation($h: String!, $p: String!) { logIn(handle: $h, password: $p) { token } }`,
      { h: handle, p: password },
    );
    expect(response.body.errors).toBeUndefined();
    return response.body.data!.logIn.token;
  };
  /** Polls until the token is refused on `routerUrl`; bounded, so a token that stays good fails the test. */
  const refusedWithin = async (routerUrl: string, token: string, address: string, timeoutMs = 1_000) => {
    const started = Date.now();
    for (;;) {
      const response = await session(routerUrl, token, address)(ME);
      if (response.status === 401) {
        expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
        return Date.now() - started;
      }
      expect(response.status).toBe(200);
      if (Date.now() - started > timeoutMs)
        throw new Error(`the token still works on ${routerUrl} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  it('a session token without exp is refused', async () => {
    const account = await signUp(stack.routerUrl, 'no_expiry');
    // The same claims as the real token, signed with the real secret, without exp.
    const claims = decodeJwt(account.token);
    delete claims.exp;
    const forever = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(stack.secrets.jwt));
    expect((await session(stack.routerUrl, account.token, '198.51.100.30')(ME)).status).toBe(200);
    const response = await session(stack.routerUrl, forever, '198.51.100.30')(ME);
    expect(response.status).toBe(401);
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    const expired = await new SignJWT({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .sign(new TextEncoder().encode(stack.secrets.jwt));
    const late = await session(stack.routerUrl, expired, '198.51.100.30')(ME);
    expect(late.status).toBe(401);
    expect(late.body.errors?.[0]).toMatchObject({
      message: 'The token has expired: log in again',
      extensions: { code: 'UNAUTHENTICATED' },
    });
  });

  it('logOut through router A: the token is refused on router B at once; the other sessions go on', async () => {
    const address = '198.51.100.31';
    const account = await signUp(stack.routerUrl, 'leaving_soon');
    const other = await logIn('leaving_soon', 'a long test password', address);
    // Both routers know the session (cached) before it ends.
    for (const url of [stack.routerUrl, routerB])
      expect((await session(url, account.token, address)(ME)).status).toBe(200);

    const out = await session(stack.routerUrl, account.token, address)<{ logOut: boolean }>(`mutation { logOut }`);
    expect(out.body.errors).toBeUndefined();
    expect(out.body.data).toEqual({ logOut: true });
    expect((await session(stack.routerUrl, account.token, address)(ME)).status).toBe(401);
    await refusedWithin(routerB, account.token, address);
    for (const url of [stack.routerUrl, routerB]) expect((await session(url, other, address)(ME)).status).toBe(200);

    // An ended session is a real credential, not a guess: a tab that keeps sending it does not use up its address's allowance.
    for (let i = 0; i < FAILURES_PER_ADDRESS + 5; i++) {
      const again = await session(i % 2 ? routerB : stack.routerUrl, account.token, address)(ME);
      expect(again.status).toBe(401);
      expect(again.body.errors?.[0]?.message).toBe('The session has ended: log in again');
    }
    expect((await from(address, { 'x-api-key': randomKey() })(ME)).status).toBe(401);
  });

  it('logOutEverywhere ends every session of the user on both routers', async () => {
    const address = '198.51.100.32';
    const account = await signUp(stack.routerUrl, 'everywhere');
    const tokens = [
      account.token,
      await logIn('everywhere', 'a long test password', address),
      await logIn('everywhere', 'a long test password', address),
    ];
    for (const token of tokens)
      for (const url of [stack.routerUrl, routerB]) expect((await session(url, token, address)(ME)).status).toBe(200);

    const out = await session(
      routerB,
      tokens[1]!,
      address,
    )<{ logOutEverywhere: number }>(`mutation { logOutEverywhere }`);
    expect(out.body.errors).toBeUndefined();
    expect(out.body.data).toEqual({ logOutEverywhere: 3 });
    for (const token of tokens) for (const url of [stack.routerUrl, routerB]) await refusedWithin(url, token, address);
    // Signing in again starts a new session.
    const again = await logIn('everywhere', 'a long test password', address);
    expect((await session(routerB, again, address)(ME)).status).toBe(200);
  });

  it('changePassword ends the other sessions on both routers, keeps this one, and only the new password logs in', async () => {
    const address = '198.51.100.33';
    const account = await signUp(stack.routerUrl, 'rotating');
    const other = await logIn('rotating', 'a long test password', address);
    for (const url of [stack.routerUrl, routerB]) expect((await session(url, other, address)(ME)).status).toBe(200);

    const changed = await session(
      stack.routerUrl,
      account.token,
      address,
    )<{ changePassword: number }>(
      `mutation($c: String!, $n: String!) { changePassword(current: $c, next: $n) { endedSessions } }`,
      { c: 'a long test password', n: 'brand new pass phrase' },
    );
    expect(changed.body.errors).toBeUndefined();
    expect(changed.body.data).toEqual({ changePassword: { endedSessions: 1 } });
    for (const url of [stack.routerUrl, routerB]) await refusedWithin(url, other, address);
    for (const url of [stack.routerUrl, routerB])
      expect((await session(url, account.token, address)(ME)).status).toBe(200);

    const oldPassword = await routerClient(stack.routerUrl, { 'x-forwarded-for': address })(
      `mutation { logIn(handle: "rotating", password: "a long test password") { token } }`,
    );
    expect(oldPassword.status).toBe(401);
    expect(await logIn('rotating', 'brand new pass phrase', address)).toBeTruthy();

    const wrongCurrent = await session(
      stack.routerUrl,
      account.token,
      address,
    )(`mutation { changePassword(current: "not my password", next: "another new phrase") { endedSessions } }`);
    // A wrong current password is the client's input to fix, not the end of this session.
    expect(wrongCurrent.body.errors?.[0]).toMatchObject({
      message: 'The current password is wrong',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    expect((await session(stack.routerUrl, account.token, address)(ME)).status).toBe(200);
  });
});

describe('passwords follow a policy', () => {
  const SIGN_UP = `mutation($h: String!, $p: String!) { signUp(handle: $h, password: $p) { token } }`;
  const signUpWith = (handle: string, password: string) =>
    routerClient(stack.routerUrl, { 'x-forwarded-for': '198.51.100.40' })<{ signUp: { token: string } }>(SIGN_UP, {
      h: handle,
      p: password,
    });

  it.each([
    ['shorter than 10 characters', 'policy_short', 'nine char', 'password must be at least 10 characters'],
    ['the handle itself, in another case', 'policy_handle', 'POLICY_HANDLE', 'password must not contain your handle'],
    [
      'the handle with a few characters around it',
      'policy_around',
      'my policy_around 1',
      'password must not contain your handle',
    ],
    [
      'in the common-password list',
      'policy_common',
      'password123',
      'password is too common: it is on a list of passwords that are tried first',
    ],
    [
      'in the common-password list, in another case',
      'policy_case',
      'QwertyUIOP',
      'password is too common: it is on a list of passwords that are tried first',
    ],
  ])('refuses a password %s with 400 BAD_USER_INPUT, and makes no account', async (_, handle, password, message) => {
    const response = await signUpWith(handle, password);
    expect(response.status).toBe(400);
    expect(response.body.errors?.[0]).toMatchObject({
      message,
      extensions: { code: 'BAD_USER_INPUT', argumentName: 'password' },
    });
    expect(await stack.dbs.users.query(`SELECT id FROM users WHERE handle = $1`, [handle])).toEqual([]);
  });

  it('accepts a long, uncommon password without the handle, and holds changePassword to the same policy', async () => {
    const created = await signUpWith('policy_fine', 'velvet otter tuesday');
    expect(created.body.errors).toBeUndefined();
    const client = session(stack.routerUrl, created.body.data!.signUp.token, '198.51.100.40');
    const CHANGE = `mutation($n: String!) { changePassword(current: "velvet otter tuesday", next: $n) { endedSessions } }`;
    for (const [next, message] of [
      ['1234567890', 'password is too common: it is on a list of passwords that are tried first'],
      ['Policy_Fine!!', 'password must not contain your handle'],
    ] as const) {
      const refused = await client(CHANGE, { n: next });
      expect(refused.body.errors?.[0]).toMatchObject({
        message,
        extensions: { code: 'BAD_USER_INPUT', argumentName: 'next' },
      });
    }
    const changed = await client(CHANGE, { n: 'quiet harbour lamps' });
    expect(changed.body.errors).toBeUndefined();
  });
});

describe('log-ins are throttled per handle and per address, the same whether or not the handle exists', () => {
  const LOG_IN = `mutation($h: String!, $p: String!) { logIn(handle: $h, password: $p) { token } }`;
  let next = 0;
  /** One log-in, each from an address of its own unless one is given. */
  const logInFrom = (handle: string, password: string, address = `203.0.113.${100 + next++}`) =>
    routerClient(stack.routerUrl, { 'x-forwarded-for': address })<{ logIn: { token: string } }>(LOG_IN, {
      h: handle,
      p: password,
    });
  /** What a client can tell about an answer. */
  const seen = (r: GraphQLResponse<{ logIn: { token: string } }>) => ({
    status: r.status,
    code: r.body.errors?.[0]?.extensions?.code,
    message: r.body.errors?.[0]?.message,
    retryAfter: r.body.errors?.[0]?.extensions?.retryAfter,
    retryAfterHeader: r.headers.get('retry-after'),
  });
  /** Moves the stored failures back in time, as if the client had waited that long. */
  const wait = (seconds: number) =>
    stack.dbs.users.query(`UPDATE login_failures SET last_failure_at = last_failure_at - make_interval(secs => $1)`, [
      seconds,
    ]);

  it('after 5 failures a handle waits 2 s, then 4 s: the same answers for a real handle and one that does not exist', async () => {
    await signUp(stack.routerUrl, 'throttle_real');
    const run = async (handle: string) => {
      const answers = [];
      for (let i = 0; i <= LOGIN_FAILURES_PER_HANDLE; i++)
        answers.push(seen(await logInFrom(handle, `wrong guess ${i}`)));
      // The failure after the allowance starts a wait: even the right password is refused until it ends, unchecked.
      answers.push(seen(await logInFrom(handle, 'a long test password')));
      await wait(2);
      answers.push(seen(await logInFrom(handle, 'wrong guess again')));
      answers.push(seen(await logInFrom(handle, 'a long test password')));
      return answers;
    };
    const real = await run('throttle_real');
    const ghost = await run('throttle_ghost');
    expect(real).toEqual(ghost);
    const wrong = {
      status: 401,
      code: 'UNAUTHENTICATED',
      message: 'Wrong handle or password',
      retryAfter: undefined,
      retryAfterHeader: null,
    };
    const waiting = (seconds: number) => ({
      status: 429,
      code: 'RATE_LIMIT_EXCEEDED',
      message: `Too many failed log-ins: try again in ${seconds} s`,
      retryAfter: seconds,
      retryAfterHeader: String(seconds),
    });
    expect(real).toEqual([...Array(LOGIN_FAILURES_PER_HANDLE + 1).fill(wrong), waiting(2), wrong, waiting(4)]);

    // Once the wait is over the right password works, and the handle starts afresh.
    await wait(4);
    const back = await logInFrom('throttle_real', 'a long test password');
    expect(back.body.errors).toBeUndefined();
    expect(back.body.data!.logIn.token).toBeTruthy();
    expect(seen(await logInFrom('throttle_real', 'one more wrong guess'))).toEqual(wrong);
  });

  it('20 guesses for one handle sent at once, from 20 addresses: only the allowance and one more are checked', async () => {
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) => logInFrom('burst_target', `burst guess ${i}`)),
    );
    const counts = outcomes(answers);
    expect(counts).toEqual({
      '401 UNAUTHENTICATED': LOGIN_FAILURES_PER_HANDLE + 1,
      '429 RATE_LIMIT_EXCEEDED': 20 - LOGIN_FAILURES_PER_HANDLE - 1,
    });
  });

  it('an address that failed too often waits too, whatever the handle; another address logs in', async () => {
    await signUp(stack.routerUrl, 'throttle_victim');
    const address = '203.0.113.250';
    for (let i = 0; i <= LOGIN_FAILURES_PER_ADDRESS; i++) {
      expect(seen(await logInFrom(`sprayed_${i}`, 'a popular guess', address)).code).toBe('UNAUTHENTICATED');
    }
    const refused = await logInFrom('throttle_victim', 'a long test password', address);
    expect(seen(refused)).toMatchObject({ status: 429, code: 'RATE_LIMIT_EXCEEDED', retryAfter: 2 });
    const elsewhere = await logInFrom('throttle_victim', 'a long test password', '203.0.113.251');
    expect(elsewhere.body.errors).toBeUndefined();
  });
});
