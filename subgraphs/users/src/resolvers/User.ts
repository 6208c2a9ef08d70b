import { badUserInput, forbidden, viewerUserId } from '@memegraph/service-kit';
import { usageOf } from '../usage';
import type { UsersContext } from '../context';
import { API_KEY_COLUMNS, type ApiKeyRow, type UserRow } from '../rows';
import { tierOf, toGraphQLTier } from './tier';

const assertSelf = (user: UserRow, context: UsersContext, field: string) => {
  if (context.viewer.kind !== 'service' && viewerUserId(context.viewer) !== user.id) {
    throw forbidden(`User.${field} is visible to the user themself only`);
  }
};

export const User = {
  __resolveReference: (reference: { id: string }, context: UsersContext) =>
    /^\d{1,18}$/.test(reference.id) ? context.loaders.userById.load(reference.id) : null,
  displayName: (user: UserRow) => user.display_name,
  createdAt: (user: UserRow) => user.created_at,
  tier: async (user: UserRow, _args: unknown, context: UsersContext) =>
    toGraphQLTier(tierOf(await context.loaders.activeSubscriptionByUserId.load(user.id))),
  subscription: (user: UserRow, _args: unknown, context: UsersContext) => {
    assertSelf(user, context, 'subscription');
    return context.loaders.activeSubscriptionByUserId.load(user.id);
  },
  usage: (user: UserRow, args: { days: number }, context: UsersContext) => {
    assertSelf(user, context, 'usage');
    if (!Number.isInteger(args.days) || args.days < 1 || args.days > 90)
      throw badUserInput('days must be between 1 and 90', { argumentName: 'days' });
    return usageOf(context.db, user.id, args.days);
  },
  apiKeys: (user: UserRow, _args: unknown, context: UsersContext) => {
    assertSelf(user, context, 'apiKeys');
    return context.db.query<ApiKeyRow>(
      `SELECT ${API_KEY_COLUMNS} FROM api_keys WHERE user_id = $1 AND revoked_at IS NULL ORDER BY id DESC`,
      [user.id],
    );
  },
};
