import { useMutation, useQuery } from '@apollo/client/react';
import { useEffect, type FormEvent } from 'react';
import { LOG_OUT, ME } from '../operations';
import { AccountView, TIER_NAMES } from './account';
import { errorCode } from './errors';
import { GenerateView } from './generate';
import { href, navigate, useRoute, type Route } from './route';
import { useSession } from './session';
import { FeedView, MemeView, SearchView, TagView, TrendingView } from './views';

function SearchForm({ text }: { text: string }) {
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget).get('q') ?? '').trim();
    navigate(href.search(value));
  };
  return (
    <form role="search" className="search" onSubmit={onSubmit}>
      <label htmlFor="search-text">Search memes</label>
      <input id="search-text" name="q" type="search" defaultValue={text} key={text} />
      <button type="submit">Search</button>
    </form>
  );
}

/** Who is signed in, and the way out. A token the router no longer accepts ends the session. */
function ViewerStatus() {
  const { token, signOut, notice } = useSession();
  const { data, error } = useQuery(ME, { skip: !token });
  const [logOut] = useMutation(LOG_OUT);
  // The router ends the session first; the browser forgets it whatever the answer (it may have ended already).
  const onLogOut = () =>
    void logOut().then(
      () => signOut(),
      () => signOut(),
    );
  const refused = error !== undefined && errorCode(error) === 'UNAUTHENTICATED';
  useEffect(() => {
    if (refused) signOut('Your session has ended: log in again.');
  }, [refused, signOut]);

  if (!token) {
    return (
      <div className="viewer">
        {notice && <p role="alert">{notice}</p>}
        <a href={href.account()}>Sign up or log in</a>
      </div>
    );
  }
  const viewer = data?.me;
  return (
    <div className="viewer">
      {viewer && (
        <p>
          Signed in as <a href={href.account()}>@{viewer.handle}</a> · {TIER_NAMES[viewer.tier]}
        </p>
      )}
      <button type="button" onClick={onLogOut}>
        Log out
      </button>
    </div>
  );
}

const NAV: { label: string; to: string; view: Route['view'] }[] = [
  { label: 'Feed', to: href.feed(), view: 'feed' },
  { label: 'Trending', to: href.trending(), view: 'trending' },
  { label: 'Generate', to: href.generate(), view: 'generate' },
  { label: 'Account', to: href.account(), view: 'account' },
];

function View({ route }: { route: Route }) {
  switch (route.view) {
    case 'feed':
      return <FeedView />;
    case 'trending':
      return <TrendingView />;
    case 'search':
      return <SearchView text={route.text} />;
    case 'tag':
      return <TagView tag={route.tag} />;
    case 'meme':
      return <MemeView id={route.id} />;
    case 'account':
      return <AccountView />;
    case 'generate':
      return <GenerateView generationId={route.generationId} />;
    case 'not-found':
      return (
        <p>
          Nothing here. <a href={href.feed()}>Back to the feed</a>.
        </p>
      );
  }
}

export function App() {
  const route = useRoute();
  return (
    <>
      <header className="masthead">
        <h1>
          <a href={href.feed()}>Memegraph</a>
        </h1>
        <nav aria-label="Main">
          <ul>
            {NAV.map((item) => (
              <li key={item.label}>
                <a href={item.to} aria-current={item.view === route.view ? 'page' : undefined}>
                  {item.label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <SearchForm text={route.view === 'search' ? route.text : ''} />
        <ViewerStatus />
      </header>
      <main>
        <View route={route} />
      </main>
    </>
  );
}
