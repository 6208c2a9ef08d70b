import { useEffect, useState } from 'react';

/*
 * Views live in the URL's fragment (`#/trending`, `#/meme/42`): the router
 * serves the built gallery as static files at `/`, and a fragment never
 * reaches a server, so every view can be reloaded and linked without the
 * server knowing the gallery's paths.
 */

export type Route =
  | { view: 'feed' }
  | { view: 'trending' }
  | { view: 'search'; text: string }
  | { view: 'tag'; tag: string }
  | { view: 'meme'; id: string }
  | { view: 'account' }
  | { view: 'generate'; generationId: string | null }
  | { view: 'not-found' };

export function parseRoute(hash: string): Route {
  const url = new URL(hash.replace(/^#/, '') || '/', 'http://gallery.invalid');
  const [first, second] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  switch (first) {
    case undefined:
      return { view: 'feed' };
    case 'trending':
      return { view: 'trending' };
    case 'search':
      return { view: 'search', text: url.searchParams.get('q') ?? '' };
    case 'tag':
      return second ? { view: 'tag', tag: second } : { view: 'not-found' };
    case 'meme':
      return second ? { view: 'meme', id: second } : { view: 'not-found' };
    case 'account':
      return { view: 'account' };
    case 'generate':
      return { view: 'generate', generationId: second ?? null };
    default:
      return { view: 'not-found' };
  }
}

export const href = {
  feed: () => '#/',
  trending: () => '#/trending',
  search: (text: string) => `#/search?${new URLSearchParams({ q: text })}`,
  tag: (tag: string) => `#/tag/${encodeURIComponent(tag)}`,
  meme: (id: string) => `#/meme/${encodeURIComponent(id)}`,
  account: () => '#/account',
  generate: (generationId?: string) => (generationId ? `#/generate/${encodeURIComponent(generationId)}` : '#/generate'),
};

export function navigate(to: string): void {
  window.location.hash = to;
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
