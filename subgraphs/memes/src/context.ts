import type { Db, Viewer } from '@memegraph/service-kit';
import type { ImageUrls } from './images/urls';
import type { MemesLoaders } from './loaders';

/** What every resolver gets: built fresh for each request. */
export interface MemesContext {
  viewer: Viewer;
  db: Db;
  loaders: MemesLoaders;
  urls: ImageUrls;
}
