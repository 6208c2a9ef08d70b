import { randomBytes } from 'node:crypto';
import { AI_MIGRATIONS, createAiServer } from '@memegraph/ai';
import { MIGRATIONS_DIR as MEMES_MIGRATIONS, createMemesServer, seedMemes } from '@memegraph/memes';
import { createRouter, loadRouterConfig } from '@memegraph/router';
import { DEFAULT_TIERS, createLogger, migrate, openDb, type Db, type SubgraphServer } from '@memegraph/service-kit';
import { USERS_MIGRATIONS, createUsersServer, seedUsers } from '@memegraph/users';
import { createTestDatabase, type TestDatabase } from './database';

export interface Stack {
  routerUrl: string;
  subgraphUrls: { users: string; memes: string; ai: string };
  dbs: { users: Db; memes: Db; ai: Db };
  secrets: { signing: string; jwt: string };
  close(): Promise<void>;
}

export interface StackOptions {
  users?: number;
  memes?: number;
}

/**
 * The whole platform in this process, on port 0, against a fresh database
 * on the real PostgreSQL: three subgraphs and the router, as `npm start` runs them.
 */
export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const database = await createTestDatabase();
  try {
    return await startOn(database, options);
  } catch (error) {
    await database.drop();
    throw error;
  }
}

async function startOn(database: TestDatabase, options: StackOptions): Promise<Stack> {
  const secrets = { signing: randomBytes(32).toString('hex'), jwt: randomBytes(32).toString('hex') };
  const log = createLogger('test', process.env.TEST_LOG_LEVEL ?? 'silent');
  const open = async (schema: string, migrations: string) => {
    const db = await openDb({ schema, databaseUrl: database.url, poolSize: 5 });
    await migrate(db, migrations);
    return db;
  };
  const dbs = {
    users: await open('users', USERS_MIGRATIONS),
    memes: await open('memes', MEMES_MIGRATIONS),
    ai: await open('ai', AI_MIGRATIONS),
  };
  const userCount = options.users ?? 20;
  await seedUsers(dbs.users, { users: userCount });
  await seedMemes(dbs.memes, { users: userCount, memes: options.memes ?? 200 });

  const servers: SubgraphServer[] = [];
  const start = async (server: SubgraphServer) => {
    servers.push(server);
    return `${await server.listen(0)}/graphql`;
  };
  const users = await start(
    await createUsersServer({
      db: dbs.users,
      signingSecret: secrets.signing,
      log,
      jwtSecret: new TextEncoder().encode(secrets.jwt),
      sessionTtlSeconds: 3600,
      tiers: DEFAULT_TIERS,
    }),
  );
  const memes = await start(await createMemesServer({ db: dbs.memes, signingSecret: secrets.signing, log }));
  const ai = await start(
    await createAiServer({ db: dbs.ai, signingSecret: secrets.signing, log, memesUrl: new URL(memes).origin }),
  );
  const router = await createRouter(
    loadRouterConfig({
      SUBGRAPH_SIGNING_SECRET: secrets.signing,
      JWT_SECRET: secrets.jwt,
      SUBGRAPH_URL_USERS: users,
      SUBGRAPH_URL_MEMES: memes,
      SUBGRAPH_URL_AI: ai,
    }),
    log,
  );
  const routerUrl = await router.listen(0);

  return {
    routerUrl,
    subgraphUrls: { users, memes, ai },
    dbs,
    secrets,
    async close() {
      await router.close();
      for (const server of servers.reverse()) await server.close();
      for (const db of Object.values(dbs)) await db.close();
      await database.drop();
    },
  };
}
