-- Requests and cost points per user per day, flushed in batches by the routers.
CREATE TABLE usage_daily (
  user_id bigint NOT NULL REFERENCES users (id),
  day date NOT NULL,
  requests bigint NOT NULL DEFAULT 0,
  cost_points bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, day)
);
