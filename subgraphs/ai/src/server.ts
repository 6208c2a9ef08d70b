import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import { createInternalClient, createSubgraphServer, type Db, type Logger, type SubgraphServer } from '@memegraph/service-kit';
import { createCatalog } from './catalog';
import { createContext } from './context';
import { InlineRunner } from './generations/runner';
import { createGenerationStore } from './generations/store';
import { LocalProvider } from './providers/local';
import { resolvers } from './resolvers';

const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export interface AiServerOptions {
  db: Db;
  signingSecret: string;
  log: Logger;
  /** Where the memes subgraph (the catalog) answers internal calls. */
  memesUrl: string;
}

export function createAiServer(options: AiServerOptions): Promise<SubgraphServer> {
  const catalog = createCatalog(createInternalClient({ caller: 'ai', signingSecret: options.signingSecret }), options.memesUrl);
  const provider = new LocalProvider();
  const runner = new InlineRunner({ store: createGenerationStore(options.db), catalog, provider, log: options.log });
  const services = { db: options.db, catalog, runner, providerName: provider.name };
  return createSubgraphServer({
    name: 'ai',
    schema: buildSubgraphSchema({ typeDefs, resolvers: resolvers as GraphQLResolverMap<unknown> }),
    signingSecret: options.signingSecret,
    log: options.log,
    context: (viewer) => createContext(viewer, services),
  });
}
