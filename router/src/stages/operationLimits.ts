import { HttpError } from '@memegraph/service-kit';
import type { OperationLimits } from '../limits/operationLimits';
import type { Stage } from './runner';
import type { RequestState } from './state';

/**
 * Operation limits on the raw text of each operation, before Apollo parses
 * it (limits/operationLimits.ts): tokens, depth, aliases and root fields,
 * for the viewer's tier. An operation of a batch over a limit is answered
 * in its place; a single one refuses the request, once the request limits
 * have counted it.
 */
export function createOperationLimits(deps: { operationLimits: OperationLimits }): Stage<RequestState> {
  return {
    name: 'operationLimits',
    run(state) {
      if (state.refused) return;
      const batch = Array.isArray(state.body);
      for (const [index, text] of state.texts) {
        if (state.refusals.has(index)) continue;
        try {
          deps.operationLimits.check(text, state.limits);
        } catch (error) {
          if (!(error instanceof HttpError)) throw error;
          if (batch) state.refusals.set(index, error);
          else {
            state.refused = error;
            state.sent = undefined;
          }
        }
      }
    },
  };
}
