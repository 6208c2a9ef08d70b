import { useEffect, useRef, useState } from 'react';
import type { MemeConnection } from '../operations';
import { ErrorNotice } from './errors';
import { MemeGrid } from './MemeCard';

interface Props {
  connection: MemeConnection;
  label: string;
  /** Fetches the page after `cursor`; the cache appends it to `connection`. */
  loadMore(cursor: string): Promise<unknown>;
}

/**
 * A cursor connection shown as one growing grid: when the "Load more" button
 * at its end comes near the viewport, the next page is fetched from the end
 * cursor. The button also works by itself, for keyboards and for browsers
 * that scroll without IntersectionObserver.
 */
export function InfiniteMemes({ connection, label, loadMore }: Props) {
  const sentinel = useRef<HTMLButtonElement>(null);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>(null);
  // One page at a time: the observer may fire again before the page arrives.
  const inFlight = useRef(false);
  const { hasNextPage, endCursor } = connection.pageInfo;

  const next = () => {
    if (!endCursor || inFlight.current) return;
    inFlight.current = true;
    setLoading(true);
    setError(null);
    loadMore(endCursor)
      .catch((failure: unknown) => setError(failure))
      .finally(() => {
        inFlight.current = false;
        setLoading(false);
      });
  };

  useEffect(() => {
    const target = sentinel.current;
    if (!target || !hasNextPage || error) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting)) next();
      },
      { rootMargin: '200px' },
    );
    observer.observe(target);
    return () => observer.disconnect();
    // Observed anew for each end cursor, so `next` is always this page's.
  }, [hasNextPage, endCursor, error]);

  return (
    <>
      <MemeGrid memes={connection.edges.map((edge) => edge.node)} label={label} />
      <div className="more">
        {error !== null && <ErrorNotice error={error} />}
        {hasNextPage ? (
          <button type="button" ref={sentinel} onClick={next} disabled={loading}>
            {loading ? 'Loading more memes…' : 'Load more memes'}
          </button>
        ) : (
          <p>That is every meme here.</p>
        )}
        <p role="status" className="visually-hidden">
          {loading ? 'Loading more memes' : `${connection.edges.length} memes shown`}
        </p>
      </div>
    </>
  );
}
