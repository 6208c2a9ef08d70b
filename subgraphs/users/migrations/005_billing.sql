-- Paid plans follow payments: a checkout per `subscribe`, the provider's
-- subscription behind each paid plan, and every webhook event applied once.
CREATE TABLE checkouts (
  -- The payment provider's reference (a Stripe Checkout Session id, or the local provider's).
  id text PRIMARY KEY,
  provider text NOT NULL,
  user_id bigint NOT NULL REFERENCES users (id),
  plan text NOT NULL CHECK (plan IN ('premium', 'enterprise')),
  status text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'completed')),
  -- Where the viewer pays; null once paid, or for a provider that completes at once.
  url text,
  started_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz
);
CREATE INDEX checkouts_user_idx ON checkouts (user_id, started_at DESC);

-- The provider's subscription a paid plan stands on; null for plans made before payments (seeds).
ALTER TABLE subscriptions
  ADD COLUMN provider text,
  ADD COLUMN provider_subscription_id text,
  ADD COLUMN checkout_id text REFERENCES checkouts (id),
  -- Paid up to here (the last paid invoice's period end), when the provider says.
  ADD COLUMN paid_until timestamptz;
CREATE UNIQUE INDEX subscriptions_provider_key ON subscriptions (provider, provider_subscription_id);

-- Webhook events applied, by the provider's event id: a replayed event changes nothing.
CREATE TABLE billing_events (
  provider text NOT NULL,
  id text NOT NULL,
  type text NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (provider, id)
);
