/**
 * The memes subgraph's CPU per request for the memes fetch of
 * `uncached-cross-subgraph` (ten trending memes with their templates, their
 * authors' five newest memes with theirs), the subgraph alone in this
 * process: a database of its own seeded as `npm start` seeds it, a
 * keep-alive client of 20 connections, 1,500 requests of warm-up, then the
 * process's CPU (server and client) per request over 3 rounds of 3,000, and
 * their median. Compare two checkouts by running it in each, alternating.
 *
 *   NODE_OPTIONS=--conditions=@memegraph/source npx tsx bench/memes-fetch.ts
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { VIEWER_HEADER, createLogger, migrate, openDb, secretKey, signViewer } from '@memegraph/service-kit';
import { MIGRATIONS_DIR, createMemesServer, seedMemes } from '@memegraph/memes';
import { createTestDatabase } from '../test/support/database';

const CONNECTIONS = 20;
const WARMUP = 1_500;
const ROUND = 3_000;
const ROUNDS = 3;
const QUERY = `{
  trending(first: 10) {
    id title topText bottomText score imageUrl template { id name }
    author { __typename id memes(first: 5) { edges { node { id title score template { name } author { __typename id } } } } }
  }
}`;

const secret = randomBytes(32).toString('hex');
const database = await createTestDatabase();
const db = await openDb({ schema: 'memes', databaseUrl: database.url });
try {
  await migrate(db, MIGRATIONS_DIR);
  await seedMemes(db, { users: 200, memes: 2_000 });
  await db.exec('VACUUM ANALYZE');
  const server = await createMemesServer({ db, signingSecret: secret, log: createLogger('memes', 'warn') });
  const url = new URL(`${await server.listen(0)}/graphql`);
  const viewer = await signViewer({ kind: 'anonymous', tier: 'anonymous', scopes: [] }, secretKey(secret), 3600);
  const body = JSON.stringify({ query: QUERY });
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const request = () =>
    new Promise<void>((resolve, reject) => {
      const headers = { 'content-type': 'application/json', [VIEWER_HEADER]: viewer };
      const req = http.request(url, { method: 'POST', agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if (res.statusCode === 200 && !text.includes('"errors"')) resolve();
          else reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`));
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const load = async (count: number) => {
    let left = count;
    const connection = async () => {
      while (left-- > 0) await request();
    };
    await Promise.all(Array.from({ length: CONNECTIONS }, connection));
  };

  await load(WARMUP);
  const perRequest: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    await load(ROUND);
    const used = process.cpuUsage(cpu);
    const seconds = (performance.now() - started) / 1000;
    perRequest.push((used.user + used.system) / ROUND);
    console.log(
      `round ${round}: ${perRequest.at(-1)!.toFixed(0)} µs of CPU per request, ${(ROUND / seconds).toFixed(0)} req/s`,
    );
  }
  const median = [...perRequest].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)]!;
  console.log(`median: ${median.toFixed(0)} µs of CPU per request (NODE_ENV=${process.env.NODE_ENV ?? ''})`);
  agent.destroy();
  await server.close();
} finally {
  await db.close();
  await database.drop();
}
