import { useQuery } from '@apollo/client/react';
import { FEED, ME, MEME_BY_ID, MEMES_PAGE, SEARCH_MEMES, TRENDING_MEMES } from '../operations';
import { hasMemesAi } from './account';
import { ErrorNotice } from './errors';
import { InfiniteMemes } from './InfiniteMemes';
import { AiBadge, MemeGrid, VoteControls, altText } from './MemeCard';
import { imageSrc } from './images';
import { href } from './route';
import { useSession } from './session';

function Loading({ what }: { what: string }) {
  return <p role="status">Loading {what}…</p>;
}

export function FeedView() {
  const { token } = useSession();
  const me = useQuery(ME, { skip: !token });
  const premium = hasMemesAi(me.data?.me?.tier);
  const { data, error, fetchMore } = useQuery(FEED);
  return (
    <section aria-labelledby="feed-heading">
      <h2 id="feed-heading">Feed</h2>
      <p className="lead">
        {premium ? (
          <>Newest first, with AI memes from Memes AI.</>
        ) : (
          <>
            Newest first. <a href={href.account()}>Memes AI</a> adds AI memes to it.
          </>
        )}
      </p>
      {error && <ErrorNotice error={error} />}
      {data ? (
        <InfiniteMemes connection={data.feed} label="Feed" loadMore={(after) => fetchMore({ variables: { after } })} />
      ) : (
        !error && <Loading what="the feed" />
      )}
    </section>
  );
}

export function TagView({ tag }: { tag: string }) {
  const { data, error, fetchMore } = useQuery(MEMES_PAGE, { variables: { tag } });
  return (
    <section aria-labelledby="tag-heading">
      <h2 id="tag-heading">Memes tagged “{tag}”</h2>
      {error && <ErrorNotice error={error} />}
      {data ? (
        <InfiniteMemes
          connection={data.memes}
          label={`Memes tagged ${tag}`}
          loadMore={(after) => fetchMore({ variables: { after } })}
        />
      ) : (
        !error && <Loading what="memes" />
      )}
    </section>
  );
}

export function TrendingView() {
  const { data, error } = useQuery(TRENDING_MEMES, { variables: { first: 24 } });
  return (
    <section aria-labelledby="trending-heading">
      <h2 id="trending-heading">Trending</h2>
      <p className="lead">The highest-scoring memes.</p>
      {error && <ErrorNotice error={error} />}
      {data ? <MemeGrid memes={data.trending} label="Trending memes" /> : !error && <Loading what="trending memes" />}
    </section>
  );
}

export function SearchView({ text }: { text: string }) {
  const { data, error } = useQuery(SEARCH_MEMES, { variables: { text }, skip: text.trim() === '' });
  return (
    <section aria-labelledby="search-heading">
      <h2 id="search-heading">{text ? `Memes matching “${text}”` : 'Search'}</h2>
      {text.trim() === '' && <p>Type some words in the search box above.</p>}
      {error && <ErrorNotice error={error} />}
      {data &&
        (data.search.length ? (
          <MemeGrid memes={data.search} label="Search results" />
        ) : (
          <p role="status">No meme matches “{text}”.</p>
        ))}
      {!data && !error && text.trim() !== '' && <Loading what="results" />}
    </section>
  );
}

export function MemeView({ id }: { id: string }) {
  const { data, error } = useQuery(MEME_BY_ID, { variables: { id } });
  if (error) return <ErrorNotice error={error} />;
  if (!data) return <Loading what="the meme" />;
  const { meme } = data;
  if (!meme) {
    return (
      <section aria-labelledby="meme-heading">
        <h2 id="meme-heading">No such meme</h2>
        <p>
          It may have been removed, or be an AI meme for <a href={href.account()}>Memes AI</a> viewers only.
        </p>
      </section>
    );
  }
  return (
    <article className="detail" aria-labelledby="meme-heading">
      <h2 id="meme-heading">
        {meme.title} {meme.origin === 'AI' && <AiBadge />}
      </h2>
      <img src={imageSrc(meme.imageUrl)} alt={altText(meme)} width={600} height={600} />
      <dl>
        <dt>Author</dt>
        <dd>@{meme.author.handle}</dd>
        <dt>Template</dt>
        <dd>{meme.template.name}</dd>
        <dt>Posted</dt>
        <dd>
          <time dateTime={meme.createdAt}>{new Date(meme.createdAt).toLocaleDateString()}</time>
        </dd>
        {meme.tags.length > 0 && (
          <>
            <dt>Tags</dt>
            <dd>
              <ul className="tags">
                {meme.tags.map((tag) => (
                  <li key={tag}>
                    <a href={href.tag(tag)}>#{tag}</a>
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
      <VoteControls meme={meme} />
    </article>
  );
}
