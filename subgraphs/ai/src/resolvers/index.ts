import { DateTime } from '@memegraph/service-kit';
import { Generation } from './Generation';
import { Mutation } from './Mutation';
import { Query } from './Query';

export const resolvers = { DateTime, Query, Mutation, Generation };
