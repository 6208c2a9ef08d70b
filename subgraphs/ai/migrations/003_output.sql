-- What the provider made, kept until the catalog has it: a job retried because the
-- catalog was away hands the same meme over again instead of asking the provider twice.
ALTER TABLE generations ADD COLUMN output jsonb;
-- The reconciler reads the unfinished generations every half minute; finished ones are nearly all of the table.
CREATE INDEX generations_unfinished_idx ON generations (id) WHERE status IN ('QUEUED', 'RUNNING');
