import DataLoader from 'dataloader';
import type { Db, TierTable, Viewer } from '@memegraph/service-kit';
import type { Catalog } from './catalog';
import type { GenerationQueue } from './generations/queue';
import type { GenerationRateLimit } from './generations/rate';
import type { ResultCache } from './generations/resultCache';
import { createGenerationStore, type GenerationRow, type GenerationStore } from './generations/store';
import type { KeyStats } from './providers/status';

export interface AiServices {
  db: Db;
  catalog: Catalog;
  queue: GenerationQueue;
  results: ResultCache;
  rate: GenerationRateLimit;
  tiers: TierTable;
  providerName: string;
  /** Health of every provider key, from every worker. */
  keyStatus(): Promise<KeyStats[]>;
  /** Templates change rarely; one catalog call serves a minute of requests. */
  templates(): Promise<{ id: string; name: string }[]>;
}

export interface AiContext extends AiServices {
  viewer: Viewer;
  store: GenerationStore;
  loaders: {
    generationById: DataLoader<string, GenerationRow | null>;
    queuePosition: DataLoader<string, number | null>;
  };
}

export function createContext(viewer: Viewer, services: AiServices): AiContext {
  const store = createGenerationStore(services.db);
  return {
    ...services,
    viewer,
    store,
    loaders: {
      generationById: new DataLoader(async (ids) => {
        const byId = new Map((await store.byIds(ids)).map((row) => [row.id, row]));
        return ids.map((id) => byId.get(id) ?? null);
      }),
      queuePosition: new DataLoader(async (ids) => {
        const positions = await store.queuePositions(ids);
        return ids.map((id) => positions.get(id) ?? null);
      }),
    },
  };
}
