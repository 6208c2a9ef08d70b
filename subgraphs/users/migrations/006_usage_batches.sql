-- Usage batches applied, by the id the router gave each: a batch sent again
-- (its answer was lost on the way back) adds nothing the second time. An id
-- is kept 7 days, as long as a router keeps a batch it has not heard back on.
CREATE TABLE usage_batches (
  id uuid PRIMARY KEY,
  applied_at timestamptz NOT NULL DEFAULT now()
);
-- Forgotten ids are swept a few at a time.
CREATE INDEX usage_batches_applied_idx ON usage_batches (applied_at);
