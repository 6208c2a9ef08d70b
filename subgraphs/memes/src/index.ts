import type { SubgraphEntry } from '@memegraph/service-kit';
import { seedMemes } from './seed';
import { createMemesServer, MIGRATIONS_DIR, SCHEMA_FILE, type MemesServerOptions } from './server';

export { createMemesServer, MIGRATIONS_DIR, SCHEMA_FILE, type MemesServerOptions } from './server';
export { seedMemes, type SeedOptions, type SeedResult } from './seed';

/** The memes subgraph: the catalog, votes, feeds and the images. */
export const subgraph: SubgraphEntry<MemesServerOptions> = {
  name: 'memes',
  defaultPort: 4002,
  schemaFile: SCHEMA_FILE,
  migrations: MIGRATIONS_DIR,
  async seed(tx, counts) {
    if (counts.memes < 1) return null;
    if (counts.users < 1) {
      throw new Error(
        'Invalid configuration:\n  SEED_USERS: must be at least 1 when SEED_MEMES is set (memes need authors)',
      );
    }
    const [state] = await tx.query<{ empty: boolean }>('SELECT NOT EXISTS (SELECT 1 FROM memes) AS empty');
    return state?.empty ? seedMemes(tx, { users: counts.users, memes: counts.memes }) : null;
  },
  createServer: createMemesServer,
};
