import { ApiKey } from './ApiKey';
import { Checkout } from './Checkout';
import { DateTime } from '@memegraph/service-kit';
import type { Resolvers } from '../generated/resolvers';
import { Mutation } from './Mutation';
import { PlanSubscription } from './PlanSubscription';
import { Query } from './Query';
import { User } from './User';

export const resolvers: Resolvers = { DateTime, Query, Mutation, User, PlanSubscription, ApiKey, Checkout };
