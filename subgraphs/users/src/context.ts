import type { Db, TierTable, Viewer } from '@memegraph/service-kit';
import type { LoginThrottle, LoginThrottleSettings } from './auth/loginThrottle';
import { createLoaders, type Loaders } from './loaders';

export interface UsersConfig {
  jwtSecret: Uint8Array;
  sessionTtlSeconds: number;
  tiers: TierTable;
  /** Over DEFAULT_LOGIN_THROTTLE. */
  loginThrottle?: Partial<LoginThrottleSettings>;
}

export interface UsersContext {
  viewer: Viewer;
  db: Db;
  loaders: Loaders;
  config: UsersConfig;
  /** One per server: it keeps the turns log-ins for one handle take. */
  loginThrottle: LoginThrottle;
}

export function createContext(viewer: Viewer, db: Db, config: UsersConfig, loginThrottle: LoginThrottle): UsersContext {
  return { viewer, db, loaders: createLoaders(db), config, loginThrottle };
}
