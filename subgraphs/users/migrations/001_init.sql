CREATE TABLE users (
  id bigserial PRIMARY KEY,
  handle text NOT NULL,
  display_name text NOT NULL,
  password_hash text NOT NULL,
  is_admin boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now()
);
-- Handles are unique regardless of case: "Doge" and "doge" are the same person.
CREATE UNIQUE INDEX users_handle_key ON users (lower(handle));

CREATE TABLE subscriptions (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  plan text NOT NULL CHECK (plan IN ('premium', 'enterprise')),
  status text NOT NULL CHECK (status IN ('active', 'canceled')),
  started_at timestamptz NOT NULL DEFAULT now(),
  canceled_at timestamptz
);
-- At most one active plan per user; the database enforces it under concurrency.
CREATE UNIQUE INDEX subscriptions_one_active ON subscriptions (user_id) WHERE status = 'active';

CREATE TABLE api_keys (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  name text NOT NULL,
  prefix text NOT NULL,
  -- SHA-256 of the secret; the secret itself is never stored.
  key_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, id DESC);
