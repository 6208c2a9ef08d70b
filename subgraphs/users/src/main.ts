import {
  createLogger,
  drainOnSignal,
  env,
  loadTiers,
  migrate,
  openDb,
  readConfig,
  secretKey,
} from '@memegraph/service-kit';
import { z } from 'zod';
import { DEFAULT_LOGIN_THROTTLE } from './auth/loginThrottle';
import { USERS_MIGRATIONS } from './index';
import { seedUsers } from './seed';
import { createUsersServer } from './server';

const config = readConfig({
  PORT: env.port(4001),
  HOST: z.string().default('127.0.0.1'),
  DATABASE_URL: env.optional(),
  DATA_DIR: z.string().default('.data/users'),
  SUBGRAPH_SIGNING_SECRET: env.secret(),
  JWT_SECRET: env.secret(),
  SESSION_TTL_SECONDS: env.int(7 * 24 * 3600, 60),
  LOGIN_FAILURES_PER_HANDLE: env.int(DEFAULT_LOGIN_THROTTLE.failuresPerHandle, 1),
  LOGIN_FAILURES_PER_ADDRESS: env.int(DEFAULT_LOGIN_THROTTLE.failuresPerAddress, 1),
  LOGIN_BACKOFF_MAX_SECONDS: env.int(DEFAULT_LOGIN_THROTTLE.maxBackoffSeconds, 1),
  TIERS_JSON: env.optional(),
  SEED_USERS: env.int(0),
  /** false when migrations run as a step of their own (`npm run migrate`) before the services start. */
  MIGRATE_ON_START: env.bool(true),
  LOG_LEVEL: z.string().default('info'),
});

const log = createLogger('users', config.LOG_LEVEL);
const db = await openDb({ schema: 'users', databaseUrl: config.DATABASE_URL, dataDir: config.DATA_DIR });
if (config.MIGRATE_ON_START) await migrate(db, USERS_MIGRATIONS);
if (config.SEED_USERS > 0) {
  const [{ count }] = (await db.query<{ count: string }>('SELECT count(*) AS count FROM users')) as [{ count: string }];
  if (Number(count) === 0) await seedUsers(db, { users: config.SEED_USERS });
}

const server = await createUsersServer({
  db,
  signingSecret: config.SUBGRAPH_SIGNING_SECRET,
  log,
  jwtSecret: secretKey(config.JWT_SECRET),
  sessionTtlSeconds: config.SESSION_TTL_SECONDS,
  tiers: loadTiers(config.TIERS_JSON),
  loginThrottle: {
    failuresPerHandle: config.LOGIN_FAILURES_PER_HANDLE,
    failuresPerAddress: config.LOGIN_FAILURES_PER_ADDRESS,
    maxBackoffSeconds: config.LOGIN_BACKOFF_MAX_SECONDS,
  },
});
const url = await server.listen(config.PORT, config.HOST);
log.info({ url: `${url}/graphql` }, 'users subgraph ready');

drainOnSignal(log, async () => {
  await server.close();
  await db.close();
});
