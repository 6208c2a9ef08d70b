import { useFragment, useMutation } from '@apollo/client/react';
import { MEME_VIEWER_VOTE, VOTE, type MemeCard as Meme } from '../operations';
import { ErrorNotice } from './errors';
import { imageSrc } from './images';
import { href } from './route';
import { useSession } from './session';

/** How a meme image is described to those who cannot see it: its captions. */
export function altText(meme: Pick<Meme, 'topText' | 'bottomText'>): string {
  const captions = [meme.topText, meme.bottomText].filter((text) => text.trim() !== '');
  return captions.length ? `Meme: ${captions.join(' / ')}` : 'Meme without captions';
}

export function AiBadge() {
  return <span className="badge badge-ai">AI meme</span>;
}

/**
 * Up and down votes. The new score comes back with the meme's id, so the
 * normalized cache shows it on every list that holds the meme. Pressing the
 * vote the viewer already gave takes it back.
 */
export function VoteControls({ meme }: { meme: Pick<Meme, 'id' | 'title' | 'score'> }) {
  const { token } = useSession();
  // Known once a vote or the meme's details brought it: lists leave it out to stay cacheable for everyone.
  const known = useFragment({ fragment: MEME_VIEWER_VOTE, from: { __typename: 'Meme', id: meme.id } });
  const viewerVote = known.complete ? known.data.viewerVote : null;
  const [vote, { loading, error }] = useMutation(VOTE, { errorPolicy: 'all' });

  const score = (
    <span className="score" aria-live="polite">
      Score: {meme.score}
    </span>
  );
  if (!token) {
    return (
      <div className="votes">
        {score}
        <a href={href.account()}>Sign in to vote</a>
      </div>
    );
  }
  const cast = (value: 1 | -1) => vote({ variables: { memeId: meme.id, value: viewerVote === value ? 0 : value } });
  return (
    <div className="votes" role="group" aria-label={`Vote on ${meme.title}`}>
      <button type="button" title="Upvote" aria-pressed={viewerVote === 1} disabled={loading} onClick={() => cast(1)}>
        <span aria-hidden="true">▲</span>
        <span className="visually-hidden">Upvote</span>
      </button>
      {score}
      <button
        type="button"
        title="Downvote"
        aria-pressed={viewerVote === -1}
        disabled={loading}
        onClick={() => cast(-1)}
      >
        <span aria-hidden="true">▼</span>
        <span className="visually-hidden">Downvote</span>
      </button>
      {error && <ErrorNotice error={error} />}
    </div>
  );
}

export function MemeCard({ meme }: { meme: Meme }) {
  const titleId = `meme-${meme.id}-title`;
  return (
    <article className={meme.origin === 'AI' ? 'card card-ai' : 'card'} aria-labelledby={titleId}>
      <img src={imageSrc(meme.imageUrl)} alt={altText(meme)} width={600} height={600} loading="lazy" />
      <h3 id={titleId}>
        <a href={href.meme(meme.id)}>{meme.title}</a>
      </h3>
      <p className="byline">
        by @{meme.author.handle} {meme.origin === 'AI' && <AiBadge />}
      </p>
      <VoteControls meme={meme} />
    </article>
  );
}

export function MemeGrid({ memes, label }: { memes: readonly Meme[]; label: string }) {
  return (
    <ul className="grid" aria-label={label}>
      {memes.map((meme) => (
        <li key={meme.id}>
          <MemeCard meme={meme} />
        </li>
      ))}
    </ul>
  );
}
