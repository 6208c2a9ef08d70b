import type { GraphQLResolverMap } from '@apollo/subgraph/dist/schema-helper';
import type { MemesContext } from '../context';
import { DateTime } from '@memegraph/service-kit';
import { Meme } from './Meme';
import { Mutation } from './Mutation';
import { Query } from './Query';
import { Template } from './Template';
import { User } from './User';

/** Every resolver of the memes subgraph, one file per GraphQL type. */
export const resolvers: GraphQLResolverMap<MemesContext> = {
  DateTime,
  Query,
  Mutation,
  Meme,
  Template,
  User,
};
