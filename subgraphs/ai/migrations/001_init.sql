CREATE TABLE generations (
  id bigserial PRIMARY KEY,
  user_id bigint NOT NULL,
  prompt text NOT NULL,
  template_id bigint,
  status text NOT NULL CHECK (status IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
  provider text NOT NULL,
  -- The finished meme lives in the memes catalog; only its id is kept here.
  meme_id bigint,
  error_code text,
  error_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  finished_at timestamptz
);
CREATE INDEX generations_user_idx ON generations (user_id, id DESC);
