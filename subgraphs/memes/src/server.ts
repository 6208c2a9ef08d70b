import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createSubgraphServer, type Db, type Logger, type SubgraphServer } from '@memegraph/service-kit';
import type { MemesContext } from './context';
import { imageRoutes } from './images/routes';
import { createImageUrls } from './images/urls';
import { internalRoutes } from './internal';
import { createLoaders } from './loaders';
import { resolvers } from './resolvers';

export const SCHEMA_FILE = fileURLToPath(new URL('../schema.graphql', import.meta.url));
/** The subgraph's SQL migrations, for `migrate(db, MIGRATIONS_DIR)` from service-kit. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations', import.meta.url));

export interface MemesServerOptions {
  /** Migrated already; the caller owns it and closes it after the server. */
  db: Db;
  /** Shared with the router (viewer headers) and used to sign AI memes' image URLs. */
  signingSecret: string;
  log: Logger;
  /** Origin that image URLs start with, e.g. `https://memes.example.com`. Default: where the server listens. */
  publicUrl?: string;
  /** Opens `/metrics` off loopback to this bearer token (`METRICS_TOKEN`); unset: loopback only. */
  metricsToken?: string;
}

/** Builds the memes subgraph's HTTP server; it serves nothing until `listen` is called. */
export async function createMemesServer(options: MemesServerOptions): Promise<SubgraphServer> {
  const { db, signingSecret, log } = options;
  const schema = buildSubgraphSchema([{ typeDefs: parse(await readFile(SCHEMA_FILE, 'utf8')), resolvers }]);

  let origin = options.publicUrl?.replace(/\/+$/, '');
  const urls = createImageUrls(() => {
    // Requests are only served once listening, and listening sets the origin.
    if (origin === undefined) throw new Error('The memes server must listen before it builds image URLs');
    return origin;
  }, signingSecret);

  const server = await createSubgraphServer<MemesContext>({
    name: 'memes',
    db,
    schema,
    signingSecret,
    log,
    context: (viewer) => ({ viewer, db, loaders: createLoaders(db, viewer), urls }),
    routes: [...imageRoutes({ db, signingSecret }), ...internalRoutes({ db, urls })],
    metricsToken: options.metricsToken,
  });

  return {
    ...server,
    async listen(port, host) {
      const url = await server.listen(port, host);
      origin ??= url;
      return url;
    },
  };
}
