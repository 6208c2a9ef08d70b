-- Queue order: lower priority runs first (the tier table's aiPriority), then by id.
ALTER TABLE generations ADD COLUMN priority int NOT NULL DEFAULT 100;
ALTER TABLE generations ADD COLUMN cached boolean NOT NULL DEFAULT false;
CREATE INDEX generations_queued_idx ON generations (priority, id) WHERE status = 'QUEUED';
