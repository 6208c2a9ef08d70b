import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ErrorCode, VIEWER_HEADER, codedError } from '@memegraph/service-kit';
import type { Histogram } from 'prom-client';
import type { RouterContext } from '../context';

/** Every router → subgraph call carries the viewer, signed and short-lived. */
export class SignedViewerDataSource extends RemoteGraphQLDataSource<RouterContext> {
  constructor(
    private readonly serviceName: string,
    url: string,
    private readonly latency?: Histogram<'subgraph' | 'outcome'>,
  ) {
    super({ url });
  }

  override async process(options: GraphQLDataSourceProcessOptions<RouterContext>) {
    const stop = this.latency?.startTimer({ subgraph: this.serviceName });
    try {
      const response = await super.process(options);
      stop?.({ outcome: response.errors?.length ? 'errors' : 'ok' });
      return response;
    } catch (error) {
      stop?.({ outcome: 'failed' });
      throw error;
    }
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<RouterContext>): Promise<void> {
    // Health checks and schema loads have no request context; they go unsigned and are refused.
    if (!('signedViewer' in context)) return;
    request.http?.headers.set(VIEWER_HEADER, await context.signedViewer());
    request.http?.headers.set('x-request-id', context.report.requestId);
  }

  /**
   * A subgraph that cannot be reached, times out or answers with an HTTP
   * error is the platform's fault, not the client's: one code, the service's
   * name, no internals. The rest of the response is still served.
   */
  override didEncounterError(): never {
    throw codedError(ErrorCode.DOWNSTREAM_SERVICE_ERROR, `The ${this.serviceName} service failed to answer`, {
      serviceName: this.serviceName,
    });
  }
}
