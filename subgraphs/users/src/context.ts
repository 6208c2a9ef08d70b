import type { Db, TierTable, Viewer } from '@memegraph/service-kit';
import type { LoginThrottle, LoginThrottleSettings } from './auth/loginThrottle';
import type { Billing } from './billing/billing';
import type { BillingProvider } from './billing/provider';
import { createLoaders, type Loaders } from './loaders';

export interface UsersConfig {
  jwtSecret: Uint8Array;
  sessionTtlSeconds: number;
  tiers: TierTable;
  /** Over DEFAULT_LOGIN_THROTTLE. */
  loginThrottle?: Partial<LoginThrottleSettings>;
  /** Who takes payments for paid plans (BILLING_PROVIDER); without one, `subscribe` is refused. */
  billing?: BillingProvider | null;
}

export interface UsersContext {
  viewer: Viewer;
  db: Db;
  loaders: Loaders;
  config: UsersConfig;
  /** One per server: it keeps the turns log-ins for one handle take. */
  loginThrottle: LoginThrottle;
  billing: Billing;
}

export function createContext(
  viewer: Viewer,
  db: Db,
  config: UsersConfig,
  loginThrottle: LoginThrottle,
  billing: Billing,
): UsersContext {
  return { viewer, db, loaders: createLoaders(db), config, loginThrottle, billing };
}
