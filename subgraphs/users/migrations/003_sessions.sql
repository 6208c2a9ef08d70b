-- One row per signed-in session. A session token names its row (the JWT's jti), and the
-- router asks for the row before it accepts the token: ending the row ends the token.
CREATE TABLE sessions (
  id uuid PRIMARY KEY,
  user_id bigint NOT NULL REFERENCES users (id),
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  ended_at timestamptz
);
-- The live sessions of a user, for log-out everywhere and password changes.
CREATE INDEX sessions_user_live_idx ON sessions (user_id) WHERE ended_at IS NULL;
