-- Tables of the memes subgraph. Names are unqualified: the connection's
-- search_path is the service's own schema.

CREATE TABLE templates (
  id         bigserial PRIMARY KEY,
  name       text NOT NULL UNIQUE CHECK (char_length(name) BETWEEN 1 AND 80),
  -- The template's own drawing, as a small shape spec (see src/images/render.ts);
  -- the renderer sanitises it, so a bad row can never inject markup into an image.
  art        jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Generated columns must be immutable; array_to_string is only marked stable
-- because of arbitrary element types, but for text[] it cannot change.
CREATE FUNCTION meme_tags_text(tags text[]) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT array_to_string(tags, ' ') $$;

CREATE TABLE memes (
  id            bigserial PRIMARY KEY,
  title         text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 120),
  top_text      text NOT NULL DEFAULT '' CHECK (char_length(top_text) <= 120),
  bottom_text   text NOT NULL DEFAULT '' CHECK (char_length(bottom_text) <= 120),
  template_id   bigint NOT NULL REFERENCES templates (id),
  tags          text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 10),
  -- A users-subgraph id. No foreign key: that table lives in another service.
  author_id     bigint NOT NULL,
  -- Always the sum of this meme's votes; kept in step under a row lock.
  score         integer NOT NULL DEFAULT 0,
  origin        text NOT NULL DEFAULT 'HUMAN' CHECK (origin IN ('HUMAN', 'AI')),
  -- The ai subgraph's generation id, so handing the same result over twice
  -- makes one meme, not two.
  generation_id text UNIQUE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  search        tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') ||
    setweight(to_tsvector('english', top_text || ' ' || bottom_text), 'B') ||
    setweight(to_tsvector('english', meme_tags_text(tags)), 'C')
  ) STORED,
  CHECK ((origin = 'AI') = (generation_id IS NOT NULL))
);

-- Newest first for everyone who may not see AI memes (most viewers); the
-- primary key serves the same order for those who may.
CREATE INDEX memes_human_id_desc ON memes (id DESC) WHERE origin = 'HUMAN';
CREATE INDEX memes_author_id_desc ON memes (author_id, id DESC);
CREATE INDEX memes_tags ON memes USING gin (tags);
CREATE INDEX memes_score_desc ON memes (score DESC, id DESC);
CREATE INDEX memes_search ON memes USING gin (search);
-- Best human captions of a template, for the ai subgraph's local provider.
CREATE INDEX memes_template_best ON memes (template_id, score DESC, id DESC) WHERE origin = 'HUMAN';

CREATE TABLE votes (
  meme_id    bigint NOT NULL REFERENCES memes (id) ON DELETE CASCADE,
  user_id    bigint NOT NULL,
  value      smallint NOT NULL CHECK (value IN (-1, 1)),
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (meme_id, user_id)
);
