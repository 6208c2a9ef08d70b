import type { ApolloServer } from '@apollo/server';
import { executeGraphQL, type ViewerSigner } from '@memegraph/service-kit';
import { refusalAnswer } from '../batch';
import { REFUSAL_HEADERS } from '../cache/httpHeaders';
import { createRouterContext, type RouterContext } from '../context';
import type { RouterMetrics } from '../metrics';
import type { Stage } from './runner';
import { refuse, type RequestState } from './state';

/**
 * Everything the cached answer did not answer goes through Apollo Server
 * (service-kit's executeGraphQL): CSRF prevention, parse, validation,
 * APQ registration and batches, then, for each operation, the operation
 * stages of gateway/pipeline.ts. A batch's operations refused before Apollo
 * are answered in their places.
 */
export function createApollo(deps: {
  apollo: ApolloServer<RouterContext>;
  signViewers: ViewerSigner;
  metrics: RouterMetrics;
}): Stage<RequestState> {
  return {
    name: 'apollo',
    async run(state) {
      const { res, viewer, report } = state;
      const answered = new Map<number, unknown>();
      for (const [index, refusal] of state.refusals)
        answered.set(index, refusalAnswer(refuse(state, deps.metrics, refusal)));
      // Kept by no one unless the operation stages say otherwise (respond.ts): Apollo's own refusals included.
      for (const name in REFUSAL_HEADERS) res.setHeader(name, REFUSAL_HEADERS[name]!);
      await executeGraphQL(deps.apollo, state.req, res, {
        body: state.body,
        search: state.search,
        answered,
        context: async () => createRouterContext(viewer, deps.signViewers, report, state.fingerprint),
        headers: state.headers,
      });
      state.answered = true;
    },
  };
}
