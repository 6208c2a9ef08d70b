-- The prompt an AI meme was generated from; null for human memes.
ALTER TABLE memes ADD COLUMN prompt text;
