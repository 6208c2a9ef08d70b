import type { Db, TierTable, Viewer } from '@memegraph/service-kit';
import { createLoaders, type Loaders } from './loaders';

export interface UsersConfig {
  jwtSecret: Uint8Array;
  sessionTtlSeconds: number;
  tiers: TierTable;
}

export interface UsersContext {
  viewer: Viewer;
  db: Db;
  loaders: Loaders;
  config: UsersConfig;
}

export function createContext(viewer: Viewer, db: Db, config: UsersConfig): UsersContext {
  return { viewer, db, loaders: createLoaders(db), config };
}
