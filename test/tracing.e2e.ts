/**
 * Tracing, as an operator turns it on: every service in a process of its
 * own, loaded through the tracing preload as scripts/start.ts and the image
 * load them, exporting to an OTLP/HTTP receiver this test runs. One request is one trace across the router, both
 * subgraphs and their SQL; a generation's job is a trace of its own, linked
 * to the request that queued it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, signUp } from './support/accounts';
import { routerClient } from './support/client';
import { createTestDatabase, type TestDatabase } from './support/database';
import { startFakeProvider, type FakeProvider } from './support/fakeProvider';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './support/otlp';
import { TEST_REDIS_URL } from './support/stack';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVER = 2;
const CONSUMER = 5;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Each service in a process of its own, as scripts/start.ts runs them, through the tracing preload. */
const SERVICES = [
  { name: 'users', main: 'subgraphs/users/src/main.ts' },
  { name: 'memes', main: 'subgraphs/memes/src/main.ts' },
  { name: 'ai', main: 'subgraphs/ai/src/main.ts' },
  { name: 'ai-worker', main: 'subgraphs/ai/src/worker-main.ts' },
  { name: 'router', main: 'router/src/main.ts' },
];

async function startService(main: string, env: NodeJS.ProcessEnv, port?: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@memegraph/source',
      '--import',
      '@memegraph/service-kit/tracing-preload',
      path.join(ROOT, main),
    ],
    { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('{')) lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  if (port !== undefined) {
    await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`${main} exited with code ${child.exitCode}`);
      return fetch(`http://127.0.0.1:${port}/health`).then(
        (r) => r.ok,
        () => false,
      );
    }, 60_000);
  }
  return child;
}

let receiver: OtlpReceiver;
let fake: FakeProvider;
let database: TestDatabase;
let routerUrl: string;
const children: ChildProcess[] = [];
/** Every JSON log line the services wrote. */
const lines: Record<string, unknown>[] = [];

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  fake = await startFakeProvider({ keys: 2 });
  database = await createTestDatabase();
  const ports: Record<string, number> = {};
  for (const { name } of SERVICES) ports[name] = await freePort();
  routerUrl = `http://127.0.0.1:${ports.router}`;
  const common = {
    ...process.env,
    DATABASE_URL: database.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: `memegraph-test:${randomBytes(6).toString('hex')}:`,
    SUBGRAPH_SIGNING_SECRET: randomBytes(32).toString('hex'),
    JWT_SECRET: randomBytes(32).toString('hex'),
    SEED_USERS: '5',
    SEED_MEMES: '20',
    LOG_LEVEL: 'info',
    // Paid plans (AI generations) are on sale without a payment provider of the operator's own.
    BILLING_PROVIDER: 'local',
    MEMES_URL: `http://127.0.0.1:${ports.memes}`,
    AI_PROVIDERS: JSON.stringify([{ kind: 'openai', baseUrl: fake.url, model: 'fake', keys: fake.keys }]),
    SUBGRAPH_URL_USERS: `http://127.0.0.1:${ports.users}/graphql`,
    SUBGRAPH_URL_MEMES: `http://127.0.0.1:${ports.memes}/graphql`,
    SUBGRAPH_URL_AI: `http://127.0.0.1:${ports.ai}/graphql`,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: '1',
    // Batches go out every 50 ms instead of 5 s.
    OTEL_BSP_SCHEDULE_DELAY: '50',
  };
  // The subgraphs first (each migrates and seeds its schema), the worker, then the router.
  await Promise.all(
    SERVICES.filter((s) => s.name !== 'router' && s.name !== 'ai-worker').map((s) =>
      startService(s.main, { ...common, PORT: String(ports[s.name]) }, ports[s.name]),
    ),
  );
  await startService('subgraphs/ai/src/worker-main.ts', common);
  await startService('router/src/main.ts', { ...common, PORT: String(ports.router) }, ports.router);
}, 120_000);

afterAll(async () => {
  await Promise.all(
    children.map((child) => {
      if (child.exitCode !== null || child.signalCode !== null) return undefined;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      return exited;
    }),
  );
  await receiver?.close();
  await fake?.close();
  await database?.drop();
}, 30_000);

const inTrace = (traceId: string) => receiver.spans.filter((s) => s.traceId === traceId);
const parentOf = (span: ReceivedSpan, spans: ReceivedSpan[]) => spans.find((s) => s.spanId === span.parentSpanId);
/** Whether `ancestor` is `span`'s parent, or its parent's parent, and so on. */
function descends(span: ReceivedSpan, ancestor: ReceivedSpan, spans: ReceivedSpan[]): boolean {
  for (let at = parentOf(span, spans); at; at = parentOf(at, spans)) if (at.spanId === ancestor.spanId) return true;
  return false;
}

const QUERY = `query TracedPage { memes(first: 3) { edges { node { id author { handle } } } } }`;

describe('one request, one trace', () => {
  it('holds the router, both subgraph requests and their SQL, each under its caller', async () => {
    const clientTrace = randomBytes(16).toString('hex');
    const response = await routerClient(routerUrl, {
      'x-request-id': 'traced-request-1',
      // A client's trace context is not continued unless TRACE_TRUST_CLIENT_TRACEPARENT=true.
      traceparent: `00-${clientTrace}-${randomBytes(8).toString('hex')}-01`,
    })(QUERY);
    expect(response.body.errors).toBeUndefined();
    expect(response.body.data!.memes.edges).toHaveLength(3);

    // The gateway's span for the request, in the trace the router started for it.
    let request: ReceivedSpan | undefined;
    await eventually(async () => {
      request = receiver.spans.find(
        (s) => s.name === 'gateway.request' && s.attributes['graphql.operation.name'] === 'TracedPage',
      );
      if (!request) return false;
      const spans = inTrace(request.traceId);
      // The router's request span ends last, once the answer is written.
      if (!spans.some((s) => s.service === 'router' && s.kind === SERVER)) return false;
      return ['users', 'memes'].every((service) =>
        spans.some((s) => s.service === service && s.scope === '@opentelemetry/instrumentation-pg'),
      );
    }, 15_000);
    const spans = inTrace(request!.traceId);
    expect(request!.traceId).not.toBe(clientTrace);
    const root = spans.find((s) => s.service === 'router' && s.kind === SERVER)!;
    expect(root, 'the router request span').toBeDefined();
    expect(root.parentSpanId).toBeUndefined();
    expect(descends(request!, root, spans)).toBe(true);
    // The request span says what the response cache did, and the request's id.
    expect(root.attributes).toMatchObject({ 'memegraph.cache': 'MISS', 'memegraph.request_id': 'traced-request-1' });
    // The router's stages are spans under its request span.
    const stages = spans.filter((s) => s.service === 'router' && s.name.startsWith('router.'));
    for (const stage of stages) expect(descends(stage, root, spans)).toBe(true);

    // The gateway's request span, with the operation's name and type and never its document or variables.
    expect(request!.attributes).toMatchObject({ 'graphql.operation.name': 'TracedPage' });
    expect(request!.attributes['graphql.document']).toBeUndefined();

    for (const subgraph of ['memes', 'users']) {
      // The router's fetch from the subgraph, and the subgraph's request span under it.
      const fetch = spans.find((s) => s.name === 'gateway.fetch' && s.attributes['subgraph.name'] === subgraph)!;
      expect(fetch, `the ${subgraph} fetch`).toBeDefined();
      expect(descends(fetch, request!, spans)).toBe(true);
      expect(['sent', 'joined', 'unshared']).toContain(fetch.attributes['memegraph.fetch.dedup']);
      if (subgraph === 'users') {
        // The authors' fetch (_entities): the entity cache, cold, had to fetch them (an author asked twice is fetched once).
        expect(fetch.attributes['memegraph.entity_cache.misses']).toBeGreaterThan(0);
        expect(
          Number(fetch.attributes['memegraph.entity_cache.hits']) +
            Number(fetch.attributes['memegraph.entity_cache.misses']),
        ).toBe(3);
      }
      const served = spans.find((s) => s.service === subgraph && s.kind === SERVER)!;
      expect(served, `the ${subgraph} request span`).toBeDefined();
      expect(served.parentSpanId).toBe(fetch.spanId);
      expect(served.attributes).toMatchObject({ 'graphql.operation.type': 'query' });
      // Its SQL statements, under it, as written: parameters, never values.
      const sql = spans.filter((s) => s.service === subgraph && s.scope === '@opentelemetry/instrumentation-pg');
      expect(sql.length).toBeGreaterThan(0);
      for (const statement of sql) expect(descends(statement, served, spans)).toBe(true);
    }

    // Asked again, the answer is a cache hit, and its trace says so.
    const again = await routerClient(routerUrl, { 'x-request-id': 'traced-request-2' })(QUERY);
    expect(again.headers.get('x-cache')).toBe('HIT');
    await eventually(
      async () =>
        receiver.spans.some(
          (s) =>
            s.service === 'router' &&
            s.kind === SERVER &&
            s.attributes['memegraph.request_id'] === 'traced-request-2' &&
            s.attributes['memegraph.cache'] === 'HIT',
        ),
      5_000,
    );

    // The request id is on the log lines the request wrote, with the trace and span ids.
    const logged = lines.filter((l) => l.requestId === 'traced-request-1');
    expect(logged.length).toBeGreaterThan(0);
    expect(logged.some((l) => l.trace_id === root.traceId && typeof l.span_id === 'string')).toBe(true);
  });

  it('links a generation job to the request that queued it, its provider attempts named by key fingerprint', async () => {
    const account = await signUp(routerUrl, `tracer_${randomBytes(3).toString('hex')}`, 'PREMIUM');
    const started = await account.client<{ generateMeme: { id: string } }>(
      `mutation Generate($input: GenerateMemeInput!) { generateMeme(input: $input) { id status } }`,
      { input: { prompt: 'a cat reading the trace of a request' } },
    );
    expect(started.body.errors).toBeUndefined();

    let job: ReceivedSpan | undefined;
    await eventually(async () => {
      job = receiver.spans.find((s) => s.service === 'ai-worker' && s.name === 'generation.run');
      return (
        job !== undefined &&
        receiver.spans.some((s) => s.name === 'ai.provider.attempt' && s.parentSpanId === job!.spanId)
      );
    }, 20_000);
    expect(job!.kind).toBe(CONSUMER);
    expect(job!.parentSpanId).toBeUndefined();
    expect(job!.attributes['memegraph.generation.id']).toBe(started.body.data!.generateMeme.id);
    // Linked to the ai subgraph's span of the mutation, in the trace the router started for it.
    expect(job!.links).toHaveLength(1);
    const link = job!.links[0]!;
    const queuedBy = receiver.spans.find((s) => s.spanId === link.spanId)!;
    expect(queuedBy.service).toBe('ai');
    expect(queuedBy.traceId).toBe(link.traceId);
    const mutation = inTrace(link.traceId);
    expect(
      mutation.some((s) => s.name === 'gateway.request' && s.attributes['graphql.operation.name'] === 'Generate'),
    ).toBe(true);

    const attempt = receiver.spans.find((s) => s.name === 'ai.provider.attempt' && s.parentSpanId === job!.spanId)!;
    expect(attempt.attributes['memegraph.ai.provider']).toBe('openai');
    expect(String(attempt.attributes['memegraph.ai.key'])).toMatch(/^openai#\d+:[0-9a-f]+$/);
    // No key anywhere in any span.
    const exported = JSON.stringify(receiver.spans);
    for (const key of fake.keys) expect(exported).not.toContain(key);
  });
});
