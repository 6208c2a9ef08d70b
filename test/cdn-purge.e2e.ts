import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PURGE_REQUEST_CHANNEL, purgeRequestMessage } from '@memegraph/service-kit';
import { eventually, signUp } from './support/accounts';
import { GENEROUS_ANONYMOUS, TEST_REDIS_URL, startStack, type Stack } from './support/stack';

/** A CDN's purge endpoint, started by the test: records what it is sent, and can fail or hold requests. */
interface Receiver {
  url: string;
  /** Tags of every purge it answered 2xx, with the authorization header it came with. */
  purges: { tags: string[]; authorization: string | undefined }[];
  /** Requests it received, failed and held ones included. */
  contacts: number;
  /** Answer the next N requests 500. */
  failNext: number;
  /** Hold requests unanswered until `release()`. */
  hold: boolean;
  release(): void;
  /** What happened, in order: `contacted`, `answered`, `abandoned` (the caller gave up). */
  events: string[];
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const held: (() => void)[] = [];
  const receiver: Receiver = {
    url: '',
    purges: [],
    contacts: 0,
    failNext: 0,
    hold: false,
    events: [],
    release() {
      receiver.hold = false;
      for (const answer of held.splice(0)) answer();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  const server = http.createServer(async (req, res) => {
    receiver.contacts++;
    receiver.events.push('contacted');
    let body = '';
    for await (const chunk of req) body += String(chunk);
    if (receiver.failNext > 0) {
      receiver.failNext--;
      res.writeHead(500).end();
      return;
    }
    const answer = () => {
      if (res.destroyed) return;
      receiver.purges.push({
        tags: (JSON.parse(body) as { tags: string[] }).tags,
        authorization: req.headers.authorization,
      });
      receiver.events.push('answered');
      res.writeHead(204).end();
    };
    res.on('close', () => {
      if (!res.writableFinished) receiver.events.push('abandoned');
    });
    if (receiver.hold) held.push(answer);
    else answer();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/purge`;
  return receiver;
}

const received = (receiver: Receiver) => new Set(receiver.purges.flatMap((p) => p.tags));
const VOTE = `mutation($id: ID!, $v: Int!) { vote(memeId: $id, value: $v) { id score } }`;

let stack: Stack;
/** The purge hook of every router of the stack. */
let receiver: Receiver;
let memeIds: string[];

beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startStack({
    users: 5,
    memes: 20,
    routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS, CDN_PURGE_URL: receiver.url, CDN_PURGE_TOKEN: 'cdn-purge-test-token' },
  });
  memeIds = (await stack.dbs.memes.query<{ id: string }>(`SELECT id FROM memes ORDER BY id LIMIT 5`)).map((r) => r.id);
});
afterAll(async () => {
  await stack?.close();
  await receiver?.close();
});

describe('CDN purge hook', () => {
  it('gets the tags of a vote, with the bearer token, and those of a purge the AI worker asks for', async () => {
    const voter = await signUp(stack.routerUrl, 'cdn_voter');
    const vote = await voter.client(VOTE, { id: memeIds[0], v: 1 });
    expect(vote.body.errors).toBeUndefined();
    await eventually(async () => received(receiver).has(`Meme:${memeIds[0]}`), 5_000);
    expect(receiver.purges.every((p) => p.authorization === 'Bearer cdn-purge-test-token')).toBe(true);

    // The worker asks every router; one claims it, and the hook hears of it once.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      await redis.publish(
        `${stack.redisPrefix}${PURGE_REQUEST_CHANNEL}`,
        purgeRequestMessage(['Meme:list', 'Meme:worker-made']),
      );
    } finally {
      redis.disconnect();
    }
    await eventually(async () => received(receiver).has('Meme:worker-made'), 5_000);
    expect(receiver.purges.filter((p) => p.tags.includes('Meme:worker-made'))).toHaveLength(1);
  });

  it('a receiver that fails twice and then answers still gets the tags; the failures are counted', async () => {
    const flaky = await startReceiver();
    try {
      const router = await stack.addRouter({ CDN_PURGE_URL: flaky.url });
      const voter = await signUp(router, 'cdn_flaky_voter');
      // Signing up purges the new user's tags too: that one goes through first.
      await eventually(async () => received(flaky).has(`User:${voter.id}`), 5_000);
      flaky.failNext = 2;
      expect((await voter.client(VOTE, { id: memeIds[1], v: 1 })).body.errors).toBeUndefined();
      await eventually(async () => received(flaky).has(`Meme:${memeIds[1]}`), 10_000);
      expect(flaky.contacts).toBeGreaterThanOrEqual(3);
      const metrics = await (await fetch(`${router}/metrics`)).text();
      expect(metrics).toMatch(/cdn_purges_total\{[^}]*outcome="retried"[^}]*\} 2/);
      expect(metrics).toMatch(/cdn_purges_total\{[^}]*outcome="sent"[^}]*\} [1-9]/);
    } finally {
      await flaky.close();
    }
  });

  it('a receiver that does not answer never holds up the mutation', async () => {
    const dead = await startReceiver();
    try {
      // One attempt with a long time limit: a mutation that waited for the hook would answer only after the router gave up on it.
      const router = await stack.addRouter({
        CDN_PURGE_URL: dead.url,
        CDN_PURGE_ATTEMPTS: '1',
        CDN_PURGE_TIMEOUT_MS: '120000',
      });
      const voter = await signUp(router, 'cdn_dead_voter');
      await eventually(async () => received(dead).has(`User:${voter.id}`), 5_000);
      dead.events.length = 0;
      dead.contacts = 0;
      dead.hold = true;
      const vote = await voter.client(VOTE, { id: memeIds[2], v: 1 });
      dead.events.push('mutation answered');
      expect(vote.status).toBe(200);
      expect(vote.body.errors).toBeUndefined();
      // The hook is contacted (before or after the answer) and holds the purge; the router is still waiting for it.
      await eventually(async () => dead.contacts > 0, 5_000);
      expect(dead.events).not.toContain('abandoned');
      expect(dead.events).not.toContain('answered');
      dead.release();
      await eventually(async () => received(dead).has(`Meme:${memeIds[2]}`), 5_000);
      expect(dead.events.indexOf('mutation answered')).toBeLessThan(dead.events.indexOf('answered'));
    } finally {
      await dead.close();
    }
  });
});
