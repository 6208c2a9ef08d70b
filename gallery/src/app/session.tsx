import { createContext, use, useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApolloProvider } from '@apollo/client/react';
import { GALLERY_CLIENT_NAME, createGalleryClient } from '../client';
import type { PersistedQueryManifest } from '../manifest';
import manifest from '../../persisted-query-manifest.json';
import { version } from '../../package.json';

const TOKEN_KEY = 'memegraph.gallery.token';

export interface Session {
  /** The session token from signUp / logIn, or null when anonymous. */
  token: string | null;
  signIn(token: string): void;
  /** Ends the session; `notice` says why when the viewer did not ask for it. */
  signOut(notice?: string): void;
  /** Why the last session ended, when the viewer did not end it. */
  notice: string | null;
}

const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = use(SessionContext);
  if (!session) throw new Error('useSession needs a <SessionProvider>');
  return session;
}

function readToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

/**
 * The viewer's session and an Apollo Client for it. A new client (and so an
 * empty cache) per session: nothing one viewer saw, such as AI memes or their
 * own votes, is shown to the next one on the same browser.
 *
 * The client sends manifest ids only and names itself, so the router holds it
 * to the gallery's manifest.
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState(readToken);
  const [notice, setNotice] = useState<string | null>(null);

  // A log-in or log-out in another tab applies here too.
  useEffect(() => {
    const onStorage = (event: StorageEvent) => {
      if (event.key === TOKEN_KEY || event.key === null) setToken(readToken());
    };
    window.addEventListener('storage', onStorage);
    return () => window.removeEventListener('storage', onStorage);
  }, []);

  const client = useMemo(
    () =>
      createGalleryClient({
        uri: '/graphql',
        mode: 'trusted-documents',
        manifest: manifest as PersistedQueryManifest,
        token: token ?? undefined,
        clientName: GALLERY_CLIENT_NAME,
        clientVersion: version,
      }),
    [token],
  );
  useEffect(() => () => client.stop(), [client]);

  const signIn = useCallback((next: string) => {
    localStorage.setItem(TOKEN_KEY, next);
    setNotice(null);
    setToken(next);
  }, []);
  const signOut = useCallback((why?: string) => {
    localStorage.removeItem(TOKEN_KEY);
    setNotice(why ?? null);
    setToken(null);
  }, []);
  const session = useMemo(() => ({ token, signIn, signOut, notice }), [token, signIn, signOut, notice]);

  return (
    <SessionContext value={session}>
      <ApolloProvider client={client}>{children}</ApolloProvider>
    </SessionContext>
  );
}
