/** Rows as the users schema stores them. */
export interface UserRow {
  id: string;
  handle: string;
  display_name: string;
  is_admin: boolean;
  created_at: Date;
}

export interface SubscriptionRow {
  id: string;
  user_id: string;
  plan: 'premium' | 'enterprise';
  status: 'active' | 'canceled';
  started_at: Date;
  canceled_at: Date | null;
  paid_until: Date | null;
}

export interface ApiKeyRow {
  id: string;
  user_id: string;
  name: string;
  prefix: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export const USER_COLUMNS = 'id, handle, display_name, is_admin, created_at';
export const SUBSCRIPTION_COLUMNS = 'id, user_id, plan, status, started_at, canceled_at, paid_until';
export const API_KEY_COLUMNS = 'id, user_id, name, prefix, created_at, last_used_at, revoked_at';
