import DataLoader from 'dataloader';
import type { Db, Viewer } from '@memegraph/service-kit';
import type { Catalog } from './catalog';
import type { GenerationRunner } from './generations/runner';
import { createGenerationStore, type GenerationRow, type GenerationStore } from './generations/store';

export interface AiServices {
  db: Db;
  catalog: Catalog;
  runner: GenerationRunner;
  providerName: string;
}

export interface AiContext extends AiServices {
  viewer: Viewer;
  store: GenerationStore;
  loaders: { generationById: DataLoader<string, GenerationRow | null> };
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
    },
  };
}
