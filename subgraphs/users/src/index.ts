import { fileURLToPath } from 'node:url';
import type { SubgraphEntry } from '@memegraph/service-kit';
import { seedUsers } from './seed';
import { createUsersServer, type UsersServerOptions } from './server';

export { createUsersServer, type UsersServerOptions } from './server';
export { seedUsers, SEED_PASSWORD } from './seed';
export * from './billing';
export const USERS_MIGRATIONS = fileURLToPath(new URL('../migrations', import.meta.url));

/** The users subgraph: accounts, sessions, API keys and plans. */
export const subgraph: SubgraphEntry<UsersServerOptions> = {
  name: 'users',
  defaultPort: 4001,
  schemaFile: fileURLToPath(new URL('../schema.graphql', import.meta.url)),
  migrations: USERS_MIGRATIONS,
  async seed(tx, counts) {
    if (counts.users < 1) return null;
    const [state] = await tx.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM users) AS empty');
    if (!state?.empty) return null;
    await seedUsers(tx, { users: counts.users });
    return { users: counts.users };
  },
  createServer: createUsersServer,
};
