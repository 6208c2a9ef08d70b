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
  // The cursor asked for last: the observer may fire again before its page arrives.
  const requested = useRef<string | null>(null);
  const { hasNextPage, endCursor } = connection.pageInfo;

  const next = () => {
    if (!endCursor || requested.current === endCursor) return;
    requested.current = endCursor;
    setLoading(true);
    setError(null);
    loadMore(endCursor).then(
      () => setLoading(false),
      (failure: unknown) => {
        // Let the viewer (or the observer) ask for the same page again.
        requested.current = null;
        setLoading(false);
        setError(failure);
      },
    );
  };

  useEffect(() => {
    const target = sentinel.current;
    if (!target || !hasNextPage || error) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) next();
    }, { rootMargin: '200px' });
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
