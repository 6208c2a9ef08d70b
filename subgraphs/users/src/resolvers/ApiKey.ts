import type { ApiKeyRow } from '../rows';

export const ApiKey = {
  createdAt: (row: ApiKeyRow) => row.created_at,
  lastUsedAt: (row: ApiKeyRow) => row.last_used_at,
  revokedAt: (row: ApiKeyRow) => row.revoked_at,
};
