import DataLoader from 'dataloader';
import { viewerUserId, type Queryable, type Viewer } from '@memegraph/service-kit';
import type { MemeRow, TemplateInfo } from './rows';
import { memesByAuthors, memesByIds, templateInfoByIds, votesOf, type AuthorPage } from './store';
import { canSeeAi } from './visibility';

/**
 * Per-request loaders: every by-id and by-parent lookup goes through one, so
 * a page of 100 memes costs the same statements as a page of 10. They are
 * made for one viewer and one request and then dropped, so nothing one
 * viewer may see can be served to another from their caches.
 */
export interface MemesLoaders {
  /** Memes this viewer may see; null for a missing or invisible one. */
  meme: DataLoader<string, MemeRow | null>;
  template: DataLoader<string, TemplateInfo | null>;
  /** This viewer's vote on a meme: -1, 1, or null (none, or not signed in). */
  viewerVote: DataLoader<string, number | null>;
  /** One page of an author's memes: `limit` rows newest first, after `afterId`. */
  authorMemes: DataLoader<AuthorPage, MemeRow[], string>;
}

function byId<T extends { id: string }>(keys: readonly string[], rows: readonly T[]): (T | null)[] {
  const found = new Map(rows.map((row) => [row.id, row]));
  return keys.map((key) => found.get(key) ?? null);
}

export function createLoaders(db: Queryable, viewer: Viewer): MemesLoaders {
  const seeAi = canSeeAi(viewer);
  const userId = viewerUserId(viewer);
  return {
    meme: new DataLoader(async (ids) => byId(ids, await memesByIds(db, ids, seeAi))),
    template: new DataLoader(async (ids) => byId(ids, await templateInfoByIds(db, ids))),
    viewerVote: new DataLoader(async (memeIds) => {
      if (userId === null) return memeIds.map(() => null);
      const votes = await votesOf(db, userId, memeIds);
      return memeIds.map((id) => votes.get(id) ?? null);
    }),
    authorMemes: new DataLoader(async (pages) => memesByAuthors(db, pages, seeAi), {
      cacheKeyFn: (page) => `${page.authorId}:${page.limit}:${page.afterId ?? ''}`,
    }),
  };
}
