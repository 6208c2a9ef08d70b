import { ApiKey } from './ApiKey';
import { DateTime } from '@memegraph/service-kit';
import { Mutation } from './Mutation';
import { PlanSubscription } from './PlanSubscription';
import { Query } from './Query';
import { User } from './User';

export const resolvers = { DateTime, Query, Mutation, User, PlanSubscription, ApiKey };
