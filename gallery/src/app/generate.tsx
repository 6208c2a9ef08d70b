import { useApolloClient, useMutation, useQuery, useSubscription } from '@apollo/client/react';
import { useEffect, type FormEvent } from 'react';
import { viewerDataChanged } from '../client';
import { GENERATE_MEME, GENERATION, GENERATION_UPDATED, ME, type Generation } from '../operations';
import { hasMemesAi } from './account';
import { ErrorNotice, problem } from './errors';
import { MemeCard } from './MemeCard';
import { href, navigate } from './route';
import { useSession } from './session';

const finished = (generation: Generation | null): boolean =>
  generation === null || generation.status === 'SUCCEEDED' || generation.status === 'FAILED';

/**
 * Follows a generation until it finishes: one read of where it stands (null
 * when it is not the viewer's), then its changes as they happen, over the
 * router's subscription (its place in the queue, running, the finished
 * meme), with no polling.
 */
function useGenerationProgress(id: string): { generation: Generation | null | undefined; error: unknown } {
  const client = useApolloClient();
  const now = useQuery(GENERATION, { variables: { id, waitSeconds: 0 }, fetchPolicy: 'network-only' });
  const known = now.data ? now.data.generation : undefined;
  const live = useSubscription(GENERATION_UPDATED, {
    variables: { id },
    skip: known === undefined || finished(known),
  });
  const generation = live.data?.generationUpdated ?? known;
  const succeeded = generation?.status === 'SUCCEEDED';

  useEffect(() => {
    if (!succeeded) return;
    // The new meme is the newest of all: lists read from now on fetch it, past the browser's cache too.
    viewerDataChanged(client);
    client.cache.evict({ id: 'ROOT_QUERY', fieldName: 'feed' });
    client.cache.evict({ id: 'ROOT_QUERY', fieldName: 'memes' });
    client.cache.gc();
  }, [client, succeeded]);

  return { generation, error: now.error ?? live.error ?? null };
}

function GenerationProgress({ id }: { id: string }) {
  const { generation, error } = useGenerationProgress(id);
  return (
    <section className="panel" aria-labelledby="progress-heading">
      <h2 id="progress-heading">Your generation</h2>
      {generation && <p>“{generation.prompt}”</p>}
      <div role="status" aria-live="polite">
        {generation === undefined && !error && <p>Checking on it…</p>}
        {generation === null && <p>No such generation: it may have been made by another account.</p>}
        {generation?.status === 'QUEUED' && (
          <p>Queued{generation.queuePosition !== null ? `: number ${generation.queuePosition} in line` : ''}.</p>
        )}
        {generation?.status === 'RUNNING' && <p>Generating with the {generation.provider} provider…</p>}
        {generation?.status === 'SUCCEEDED' && <p>Done: your meme is ready.</p>}
      </div>
      {generation?.status === 'FAILED' && generation.error && (
        <ErrorNotice known={problem(generation.error.code, generation.error.message)} />
      )}
      {generation?.status === 'SUCCEEDED' && generation.meme && <MemeCard meme={generation.meme} />}
      {error !== null && <ErrorNotice error={error} />}
    </section>
  );
}

function GenerateForm() {
  const [generate, { loading, error }] = useMutation(GENERATE_MEME, { errorPolicy: 'all' });
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const prompt = String(new FormData(event.currentTarget).get('prompt') ?? '');
    const result = await generate({ variables: { prompt } });
    if (result.data) navigate(href.generate(result.data.generateMeme.id));
  };
  return (
    <form className="panel" aria-labelledby="generate-heading" onSubmit={onSubmit}>
      <h2 id="generate-heading">Generate a meme</h2>
      <label>
        Prompt
        <textarea name="prompt" required maxLength={280} rows={3} placeholder="when the tests pass on the first try" />
      </label>
      <button type="submit" disabled={loading}>
        Generate meme
      </button>
      {error && <ErrorNotice error={error} />}
    </form>
  );
}

export function GenerateView({ generationId }: { generationId: string | null }) {
  const { token } = useSession();
  const me = useQuery(ME, { skip: !token });
  if (!token) {
    return (
      <p className="panel">
        <a href={href.account()}>Sign up or log in</a> with Memes AI to generate memes.
      </p>
    );
  }
  if (me.error) return <ErrorNotice error={me.error} />;
  if (!me.data) return <p role="status">Loading your account…</p>;
  if (!hasMemesAi(me.data.me?.tier)) {
    return (
      <p className="panel">
        Generating memes is part of Memes AI: <a href={href.account()}>upgrade on your account page</a>.
      </p>
    );
  }
  return (
    <div className="panels">
      <GenerateForm />
      {generationId && <GenerationProgress key={generationId} id={generationId} />}
    </div>
  );
}
