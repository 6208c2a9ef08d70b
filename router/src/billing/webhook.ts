import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  ErrorCode,
  REQUEST_ID_HEADER,
  createInternalClient,
  httpStatusFor,
  readBody,
  sendError,
  sendJson,
  type Logger,
} from '@memegraph/service-kit';

/** Where payment providers send their webhooks (Stripe: the endpoint's URL is `https://<router>/webhooks/billing`). */
export const BILLING_WEBHOOK_PATH = '/webhooks/billing';

/** The signature header of each provider, in the order looked for. */
const SIGNATURE_HEADERS = ['stripe-signature', 'webhook-signature'];

/** A provider's event is a few KB; a body past this is no event. */
const WEBHOOK_BODY_LIMIT = 256 * 1024;

export interface BillingWebhookOptions {
  signingSecret: string;
  /** The users subgraph's `/internal/billing/webhook`. */
  url: URL;
  viewerCache: { invalidateUser(userId: string): Promise<void> };
  responseCache: { purge(tags: readonly string[], options: { keepStale: boolean }): Promise<void> };
  log: Logger;
}

/**
 * `POST /webhooks/billing`: a payment provider's event, handed as received
 * (body and signature header) to the users subgraph, which checks the
 * signature and applies the event once. When it changed a user's plan,
 * that user's cached viewer and answers are dropped here, in Redis and, by
 * pub/sub, on every other router, as after `subscribe`. A forged event is
 * a 400 BAD_USER_INPUT; anything that failed on the way is a 502 the
 * provider retries.
 */
export function createBillingWebhook(options: BillingWebhookOptions) {
  const call = createInternalClient({ caller: 'router', signingSecret: options.signingSecret });
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (req.method !== 'POST')
      return sendError(
        res,
        405,
        ErrorCode.BAD_REQUEST,
        `A payment provider POSTs its events to ${BILLING_WEBHOOK_PATH}`,
      );
    const body = await readBody(req, WEBHOOK_BODY_LIMIT);
    const header = SIGNATURE_HEADERS.map((name) => req.headers[name]).find((value) => typeof value === 'string');
    const requestId = req.headers[REQUEST_ID_HEADER] as string | undefined;
    let received: { applied: boolean; userId?: string };
    try {
      received = await call(options.url, { payload: body.toString('utf8'), signature: header }, requestId);
    } catch (error) {
      const code = (error as { extensions?: { code?: unknown } }).extensions?.code;
      if (code === ErrorCode.BAD_USER_INPUT || code === ErrorCode.NOT_FOUND)
        return sendError(res, httpStatusFor[code]!, code, (error as Error).message);
      options.log.error({ err: error, requestId }, 'a billing webhook could not be applied');
      return sendError(
        res,
        502,
        ErrorCode.DOWNSTREAM_SERVICE_ERROR,
        'The event could not be applied now: send it again',
      );
    }
    if (received.applied && received.userId) {
      // The plan changed: what the router knows of the user's entitlement goes, everywhere.
      await options.viewerCache.invalidateUser(received.userId);
      await options.responseCache.purge([`User:${received.userId}`], { keepStale: false });
    }
    sendJson(res, 200, { received: true, applied: received.applied });
  };
}
