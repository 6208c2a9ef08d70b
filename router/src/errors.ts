import type { GraphQLFormattedError } from 'graphql';
import { ErrorCode, maskErrors, type Logger } from '@memegraph/service-kit';

/**
 * The router's one place for error shapes: subgraph failures become
 * DOWNSTREAM_SERVICE_ERROR naming the service; anything uncoded is masked.
 */
export function formatRouterError(log: Logger) {
  const mask = maskErrors(log);
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const serviceName = formatted.extensions?.serviceName;
    if (typeof serviceName === 'string' && formatted.extensions?.code === ErrorCode.INTERNAL_SERVER_ERROR) {
      return {
        message: `The ${serviceName} service failed`,
        ...(formatted.path ? { path: formatted.path } : {}),
        extensions: { code: ErrorCode.DOWNSTREAM_SERVICE_ERROR, serviceName },
      };
    }
    return mask(formatted, error);
  };
}
