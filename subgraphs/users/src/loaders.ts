import DataLoader from 'dataloader';
import type { Db } from '@memegraph/service-kit';
import { SUBSCRIPTION_COLUMNS, USER_COLUMNS, type SubscriptionRow, type UserRow } from './rows';

/** Per-request loaders: one statement per kind of lookup, however many ids a page holds. */
export function createLoaders(db: Db) {
  return {
    userById: new DataLoader<string, UserRow | null>(async (ids) => {
      const rows = await db.query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = ANY($1::bigint[])`, [ids]);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    }),
    activeSubscriptionByUserId: new DataLoader<string, SubscriptionRow | null>(async (userIds) => {
      const rows = await db.query<SubscriptionRow>(
        `SELECT ${SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE status = 'active' AND user_id = ANY($1::bigint[])`,
        [userIds],
      );
      const byUser = new Map(rows.map((row) => [row.user_id, row]));
      return userIds.map((id) => byUser.get(id) ?? null);
    }),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
