import { badUserInput, decodeCursor, encodeCursor, pageSize } from '@memegraph/service-kit';
import type { MemeRow } from './rows';

export interface MemeConnection {
  edges: { cursor: string; node: MemeRow }[];
  pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
}

/** Memes lists are ordered by id, so a cursor is the id of the last meme seen. */
const CURSOR_KIND = 'meme';

const MAX_ID = 2n ** 63n - 1n;

export interface PageRequest {
  size: number;
  afterId: string | null;
}

/** Checks `first` and `after`; both errors are BAD_USER_INPUT. */
export function pageRequest(first: number | null | undefined, after: string | null | undefined): PageRequest {
  const size = pageSize(first);
  const afterId = decodeCursor(CURSOR_KIND, after);
  if (afterId === null) return { size, afterId: null };
  const id = BigInt(afterId);
  if (id > MAX_ID) throw badUserInput('after is not a valid cursor', { argumentName: 'after' });
  return { size, afterId: id.toString() };
}

/** Builds a connection from up to `size + 1` rows: the extra one only says that another page follows. */
export function memeConnection(rows: readonly MemeRow[], page: PageRequest): MemeConnection {
  const edges = rows.slice(0, page.size).map((node) => ({ cursor: encodeCursor(CURSOR_KIND, node.id), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > page.size,
      // Forward-only pagination: a page that starts after a cursor has memes before it.
      hasPreviousPage: page.afterId !== null,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}
