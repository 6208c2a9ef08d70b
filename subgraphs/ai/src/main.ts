import { createLogger, drainOnSignal, env, migrate, openDb, readConfig } from '@memegraph/service-kit';
import { z } from 'zod';
import { AI_MIGRATIONS } from './index';
import { createAiServer } from './server';

const config = readConfig({
  PORT: env.port(4003),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: env.optional(),
  DATA_DIR: z.string().default('.data/ai'),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  MEMES_URL: env.url().default('http://127.0.0.1:4002'),
  LOG_LEVEL: z.string().default('info'),
});

const log = createLogger('ai', config.LOG_LEVEL);
const db = await openDb({ schema: 'ai', databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
await migrate(db, AI_MIGRATIONS);

const server = await createAiServer({ db, signingSecret: config.SUBGRAPH_SIGNING_SECRET, log, memesUrl: config.MEMES_URL });
const url = await server.listen(config.PORT, config.HOST);
log.info({ url: `${url}/graphql` }, 'ai subgraph ready');

drainOnSignal(log, async () => {
  await server.close();
  await db.close();
});
