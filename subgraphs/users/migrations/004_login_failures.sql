-- Failed log-ins per handle and per client address, for throttling. The key is a SHA-256 of
-- "handle:<handle, lowercased>" or "address:<address>": handles typed at the log-in form (and
-- the passwords people type there by mistake) are not kept.
CREATE TABLE login_failures (
  key text PRIMARY KEY,
  failures integer NOT NULL,
  last_failure_at timestamptz NOT NULL
);
-- Forgotten failures are swept a few at a time.
CREATE INDEX login_failures_last_idx ON login_failures (last_failure_at);
