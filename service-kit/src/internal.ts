import { GraphQLError } from 'graphql';
import { ErrorCode, codedError, httpStatusFor } from './errors';
import { HttpError, readJsonBody, sendError, sendJson } from './http';
import type { Route } from './subgraph';
import { REQUEST_ID_HEADER, currentRequestId, injectTraceContext } from './tracing';
import { VIEWER_HEADER, createViewerSigner, secretKey, serviceViewer } from './viewer';

const requestIdHeader = (given: string | undefined): Record<string, string> => {
  const id = given ?? currentRequestId();
  return id === undefined ? {} : { [REQUEST_ID_HEADER]: id };
};

/**
 * Calls another Memegraph service's internal JSON endpoint, signed as a
 * service so the callee knows the call came from inside.
 */
export function createInternalClient(options: { caller: string; signingSecret: string; timeoutMs?: number }) {
  // The caller's identity never changes: its token is reused, as the router reuses a viewer's.
  const sign = createViewerSigner(secretKey(options.signingSecret), { max: 1 });
  const caller = serviceViewer(options.caller);
  /** `requestId`: the request the call is made for, when the caller passes it along itself (else its request scope's). */
  return async function call<T>(url: string | URL, body?: unknown, requestId?: string): Promise<T> {
    const token = await sign(caller);
    let response: Response;
    try {
      response = await fetch(url, {
        method: body === undefined ? 'GET' : 'POST',
        // The request id and trace context of the request this call is made for, when there is one.
        headers: injectTraceContext({
          'content-type': 'application/json',
          [VIEWER_HEADER]: token,
          ...requestIdHeader(requestId),
        }),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
      });
    } catch {
      throw codedError(ErrorCode.DOWNSTREAM_SERVICE_ERROR, `Internal service at ${new URL(url).host} is unreachable`);
    }
    const payload = (await response.json().catch(() => null)) as {
      errors?: { message: string; extensions?: { code?: string } }[];
    } | null;
    if (!response.ok) {
      const first = payload?.errors?.[0];
      const code = first?.extensions?.code;
      // Input errors found by the callee are the client's to fix; anything else is ours.
      if (code === ErrorCode.BAD_USER_INPUT || code === ErrorCode.NOT_FOUND)
        throw codedError(code, first?.message ?? 'Bad input');
      throw codedError(ErrorCode.DOWNSTREAM_SERVICE_ERROR, `Internal service answered ${response.status}`);
    }
    return payload as T;
  };
}

export type InternalClient = ReturnType<typeof createInternalClient>;

/**
 * An internal JSON endpoint under `/internal/`: only other services, never
 * end users, may call it. Coded errors thrown by the handler keep their code.
 */
export function internalRoute(
  method: 'GET' | 'POST',
  pattern: RegExp,
  handler: (input: { body: unknown; match: RegExpMatchArray; url: URL }) => Promise<unknown>,
): Route {
  return async (req, res, url, readViewer) => {
    const match = url.pathname.match(pattern);
    if (!match || req.method !== method) return false;
    const viewer = await readViewer();
    if (viewer.kind !== 'service') throw new HttpError(403, ErrorCode.FORBIDDEN, 'Internal endpoint');
    const body = method === 'POST' ? await readJsonBody(req, 1024 * 1024) : undefined;
    try {
      sendJson(res, 200, await handler({ body, match, url }));
    } catch (error) {
      const code = error instanceof GraphQLError ? error.extensions?.code : undefined;
      if (typeof code !== 'string') throw error;
      sendError(res, httpStatusFor[code] ?? 500, code, (error as GraphQLError).message);
    }
    return true;
  };
}
