import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { createSubgraphServer, type Db, type Logger, type SubgraphServer } from '@memegraph/service-kit';
import { DEFAULT_LOGIN_THROTTLE, LoginThrottle } from './auth/loginThrottle';
import { Billing } from './billing/billing';
import { billingWebhookRoute } from './billing/routes';
import { createContext, type UsersConfig } from './context';
import { viewerRoute } from './internal';
import { usageRoute } from './usage';
import { resolvers } from './resolvers';

const typeDefs = parse(readFileSync(new URL('../schema.graphql', import.meta.url), 'utf8'));

export interface UsersServerOptions extends UsersConfig {
  db: Db;
  signingSecret: string;
  log: Logger;
  /** Opens `/metrics` off loopback to this bearer token (`METRICS_TOKEN`); unset: loopback only. */
  metricsToken?: string;
}

export function createUsersServer(options: UsersServerOptions): Promise<SubgraphServer> {
  const { db, signingSecret, log, ...config } = options;
  const loginThrottle = new LoginThrottle(db.primary, { ...DEFAULT_LOGIN_THROTTLE, ...config.loginThrottle });
  const billing = new Billing(db, config.billing ?? null, log);
  return createSubgraphServer({
    name: 'users',
    db,
    schema: buildSubgraphSchema([{ typeDefs, resolvers }]),
    signingSecret,
    log,
    context: (viewer) => createContext(viewer, db, config, loginThrottle, billing),
    routes: [viewerRoute(db.primary), usageRoute(db), billingWebhookRoute(billing)],
    metricsToken: options.metricsToken,
  });
}
