import { GraphQLScalarType, Kind } from 'graphql';
import { badUserInput } from './errors';

function toDate(value: unknown): Date {
  const date =
    value instanceof Date ? value : typeof value === 'string' || typeof value === 'number' ? new Date(value) : null;
  if (!date || Number.isNaN(date.getTime())) throw badUserInput('DateTime must be an ISO 8601 date and time');
  return date;
}

/** Instants as ISO 8601 strings in UTC, e.g. `2025-01-31T12:00:00.000Z`. */
export const DateTime = new GraphQLScalarType<Date, string>({
  name: 'DateTime',
  description: 'An instant in time, as an ISO 8601 string in UTC.',
  serialize: (value) => toDate(value).toISOString(),
  parseValue: (value) => toDate(value),
  parseLiteral: (ast) => {
    if (ast.kind !== Kind.STRING) throw badUserInput('DateTime must be a string');
    return toDate(ast.value);
  },
});
