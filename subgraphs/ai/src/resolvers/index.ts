import { DateTime } from '@memegraph/service-kit';
import type { Resolvers } from '../generated/resolvers';
import { Generation } from './Generation';
import { Mutation } from './Mutation';
import { Query } from './Query';

export const resolvers: Resolvers = { DateTime, Query, Mutation, Generation };
