import { useApolloClient, useMutation, useQuery } from '@apollo/client/react';
import { useState, type FormEvent } from 'react';
import { LOG_IN, ME, SIGN_UP, SUBSCRIBE, type Tier } from '../operations';
import { ErrorNotice } from './errors';
import { href, navigate } from './route';
import { useSession } from './session';

export const TIER_NAMES: Record<Tier, string> = {
  ANONYMOUS: 'Anonymous',
  FREE: 'Free',
  PREMIUM: 'Memes AI (premium)',
  ENTERPRISE: 'Enterprise',
};

export const hasMemesAi = (tier: Tier | undefined): boolean => tier === 'PREMIUM' || tier === 'ENTERPRISE';

function formFields(form: HTMLFormElement): Record<string, string> {
  return Object.fromEntries([...new FormData(form)].map(([name, value]) => [name, String(value)]));
}

function SignUpForm() {
  const { signIn } = useSession();
  const [signUp, { loading, error }] = useMutation(SIGN_UP, { errorPolicy: 'all' });
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const { handle = '', password = '', displayName = '' } = formFields(event.currentTarget);
    const result = await signUp({ variables: { handle, password, ...(displayName ? { displayName } : {}) } });
    if (result.data) {
      signIn(result.data.signUp.token);
      navigate(href.feed());
    }
  };
  return (
    <form className="panel" aria-labelledby="sign-up-heading" onSubmit={onSubmit}>
      <h2 id="sign-up-heading">Sign up</h2>
      <label>
        Handle
        <input name="handle" required minLength={3} maxLength={30} pattern="[A-Za-z0-9_]+" autoComplete="username" />
      </label>
      <label>
        Display name (optional)
        <input name="displayName" maxLength={60} autoComplete="nickname" />
      </label>
      <label>
        Password
        <input name="password" type="password" required minLength={10} maxLength={200} autoComplete="new-password" />
      </label>
      <button type="submit" disabled={loading}>
        Sign up
      </button>
      {error && <ErrorNotice error={error} />}
    </form>
  );
}

function LogInForm() {
  const { signIn } = useSession();
  const [logIn, { loading, error }] = useMutation(LOG_IN, { errorPolicy: 'all' });
  const onSubmit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const { handle = '', password = '' } = formFields(event.currentTarget);
    const result = await logIn({ variables: { handle, password } });
    if (result.data) {
      signIn(result.data.logIn.token);
      navigate(href.feed());
    }
  };
  return (
    <form className="panel" aria-labelledby="log-in-heading" onSubmit={onSubmit}>
      <h2 id="log-in-heading">Log in</h2>
      <label>
        Handle
        <input name="handle" required autoComplete="username" />
      </label>
      <label>
        Password
        <input name="password" type="password" required autoComplete="current-password" />
      </label>
      <button type="submit" disabled={loading}>
        Log in
      </button>
      {error && <ErrorNotice error={error} />}
    </form>
  );
}

/**
 * The plan and the upgrade to Memes AI. The upgrade is a checkout: while it
 * is open, the viewer goes to the payment provider to pay, and comes back
 * with the plan active. A new plan changes what the router lets the viewer
 * see, so every cached answer is dropped and the queries on screen run
 * again: the feed comes back with AI memes in it.
 */
function Membership() {
  const client = useApolloClient();
  const me = useQuery(ME);
  const [subscribe, { loading, error }] = useMutation(SUBSCRIBE, { errorPolicy: 'all' });
  const [upgraded, setUpgraded] = useState(false);
  const upgrade = async () => {
    const result = await subscribe({ variables: { plan: 'PREMIUM' } });
    if (!result.data) return;
    const { status, url } = result.data.subscribe;
    if (status === 'OPEN' && url) {
      window.location.assign(url);
      return;
    }
    await client.resetStore();
    setUpgraded(true);
  };

  if (me.error) return <ErrorNotice error={me.error} />;
  const viewer = me.data?.me;
  if (!viewer) return <p role="status">Loading your account…</p>;
  return (
    <section className="panel" aria-labelledby="account-heading">
      <h2 id="account-heading">@{viewer.handle}</h2>
      <p>
        Plan: <strong>{TIER_NAMES[viewer.tier]}</strong>
      </p>
      {hasMemesAi(viewer.tier) ? (
        <div role="status" className="notice">
          <p>
            {upgraded
              ? 'Welcome to Memes AI: your feed now includes AI memes.'
              : 'You have Memes AI: AI memes are in your feed.'}
          </p>
          <p>
            <a href={href.feed()}>See your feed</a> or <a href={href.generate()}>generate a meme</a>.
          </p>
        </div>
      ) : (
        <>
          <p>
            Memes AI adds the spicier AI-generated memes to your feed, and lets you generate your own from a prompt.
          </p>
          <button type="button" onClick={upgrade} disabled={loading}>
            Upgrade to Memes AI
          </button>
        </>
      )}
      {error && <ErrorNotice error={error} />}
    </section>
  );
}

export function AccountView() {
  const { token } = useSession();
  if (token) return <Membership />;
  return (
    <div className="panels">
      <SignUpForm />
      <LogInForm />
    </div>
  );
}
