import { DateTime } from '@memegraph/service-kit';
import type { Resolvers } from '../generated/resolvers';
import { Meme } from './Meme';
import { Mutation } from './Mutation';
import { Query } from './Query';
import { Template } from './Template';
import { User } from './User';

/** Every resolver of the memes subgraph, one file per GraphQL type. */
export const resolvers: Resolvers = {
  DateTime,
  Query,
  Mutation,
  Meme,
  Template,
  User,
};
