import { LRUCache } from 'lru-cache';
import { signViewer, type Viewer } from '@memegraph/service-kit';

/** A signed viewer is valid this long… */
const TOKEN_TTL_SECONDS = 60;
/** …and handed out again for this long after it was made, so a subgraph never sees one about to expire. */
const REUSE_MS = 30_000;

/**
 * Signs viewers for subgraph calls (`x-memegraph-viewer`), reusing a token
 * for the same viewer for a while: HS256 through Web Crypto cost about 3%
 * of the router's CPU on a cache miss when every request signed its own. A
 * viewer whose tier or scopes change is another viewer, and gets its own.
 */
export function createViewerSigner(key: Uint8Array, options: { max?: number } = {}) {
  const signed = new LRUCache<string, { token: Promise<string>; renewAt: number }>({ max: options.max ?? 10_000 });
  return (viewer: Viewer): Promise<string> => {
    const id = JSON.stringify(viewer);
    const now = Date.now();
    const known = signed.get(id);
    if (known && now < known.renewAt) return known.token;
    const token = signViewer(viewer, key, TOKEN_TTL_SECONDS);
    signed.set(id, { token, renewAt: now + REUSE_MS });
    token.catch(() => signed.delete(id));
    return token;
  };
}

export type ViewerSigner = ReturnType<typeof createViewerSigner>;
