import http, { type IncomingMessage, type ServerResponse, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext, type ContextThunk } from '@apollo/server';
import Negotiator from 'negotiator';
import { ErrorCode, errorStatusFor } from './errors';
import type { Logger } from './log';
import { REQUEST_ID_HEADER, requestIdOf, withRequestId } from './tracing';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Headers given for the answer; `headers` adds those the status needs. */
    readonly headersGiven: Record<string, string> = {},
    /** Extra `extensions` for the error body. */
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** Headers the answer needs. An unread body leaves the connection unusable, so 413 closes it. */
  get headers(): Record<string, string> {
    const headers = { ...this.headersGiven };
    if (this.status === 413) headers.connection = 'close';
    if (this.status === 401) headers['www-authenticate'] = 'Bearer';
    return headers;
  }
}

/**
 * Reads a request body, refusing it as soon as it passes `limitBytes`. Read
 * from the stream's events, not its async iterator; a body of one chunk is
 * returned as is, without a copy. (Even sent in one packet with its head, a
 * body is parsed after the handler's first microtasks, so it is never
 * complete yet when a request path reads it first.)
 */
export function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limitBytes) {
    req.resume();
    return Promise.reject(
      new HttpError(413, ErrorCode.PAYLOAD_TOO_LARGE, `Request body is larger than ${limitBytes} bytes`),
    );
  }
  // Read already (its end was emitted): nothing is left to read, as the async iterator would say.
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
  return new Promise((resolve, reject) => {
    let first: Buffer | undefined;
    let chunks: Buffer[] | undefined;
    let size = 0;
    const done = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) {
        done();
        req.resume();
        reject(new HttpError(413, ErrorCode.PAYLOAD_TOO_LARGE, `Request body is larger than ${limitBytes} bytes`));
        return;
      }
      if (first === undefined) first = chunk;
      else (chunks ??= [first]).push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks ? Buffer.concat(chunks, size) : (first ?? Buffer.alloc(0)));
    };
    const onError = (error: Error) => {
      done();
      reject(error);
    };
    // A client that hangs up mid-body: closed before its end.
    const onClose = () => {
      done();
      reject(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('close', onClose);
  });
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  res.end(payload);
}

export const APPLICATION_JSON = 'application/json; charset=utf-8';
export const GRAPHQL_RESPONSE_JSON = 'application/graphql-response+json; charset=utf-8';

/**
 * The media type of a GraphQL answer to a request with this `Accept`, chosen
 * as Apollo Server chooses it for the answers it writes: no `Accept`, or a
 * wildcard, is `application/json`; null when the client accepts neither type.
 */
export function graphqlMediaType(accept: string | string[] | undefined): string | null {
  const value = Array.isArray(accept) ? accept.join(', ') : accept;
  if (!value) return APPLICATION_JSON;
  return new Negotiator({ headers: { accept: value } }).mediaType([APPLICATION_JSON, GRAPHQL_RESPONSE_JSON]) ?? null;
}

/**
 * A refusal written as a GraphQL answer to `req`: in the media type its
 * `Accept` asks for (`application/json` when it asks for neither: an error is
 * still better understood than a 406), with the status that media type calls for.
 */
export function sendRequestError(
  req: IncomingMessage,
  res: ServerResponse,
  error: HttpError,
  headers: Record<string, string> = {},
): void {
  const mediaType = graphqlMediaType(req.headers.accept);
  const contentType = mediaType ?? APPLICATION_JSON;
  sendError(
    res,
    error.status,
    error.code,
    error.message,
    { ...error.headers, ...headers, 'content-type': contentType },
    error.extensions,
  );
}

/** The same refusal with the status the media type of its answer calls for (see `errorStatusFor`). */
export function forMediaType(error: HttpError, accept: string | string[] | undefined): HttpError {
  const status = errorStatusFor(error.code, graphqlMediaType(accept), error.status);
  return status === error.status
    ? error
    : new HttpError(status, error.code, error.message, error.headersGiven, error.extensions);
}

/** A GraphQL-shaped error body for failures that happen before GraphQL runs. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  extensions: Record<string, unknown> = {},
): void {
  sendJson(res, status, { errors: [{ message, extensions: { code, ...extensions } }] }, headers);
}

export const isJsonContentType = (contentType: string | undefined) =>
  // What nearly every client sends, known without splitting and matching it (asked twice per request; about
  // 1 us per request in a CPU profile of cache hits).
  contentType === 'application/json' ||
  (!!contentType && /^application\/(?:[\w.+-]+\+)?json\b/i.test(contentType.split(';')[0]!.trim()));

/**
 * How deep a request's JSON may nest: far more than any input type of the
 * schema needs (a batch, an operation, its variables, then the input), far
 * less than what overflows the stack of the recursive code a value meets
 * later (cache keys, variable coercion, logging).
 */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests arrays and objects more than `max` levels deep; walked without recursion. */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [item, depth] = pending.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth + 1 > max) return true;
    for (const child of Array.isArray(item) ? item : Object.values(item)) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return false;
}

/** Refuses JSON from a client that nests past `MAX_JSON_DEPTH`, before any other code walks it. */
export function assertJsonDepth(value: unknown, what: string): void {
  if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
    throw new HttpError(400, ErrorCode.BAD_REQUEST, `${what} nests deeper than ${MAX_JSON_DEPTH} levels`);
  }
}

/** Parses the JSON body of a POST, with coded errors for the ways it can be wrong. */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  return readBody(req, limitBytes).then((raw) => jsonOf(req, raw));
}

/** A body read whole, as readJsonBody gives it. */
function jsonOf(req: IncomingMessage, raw: Buffer): unknown {
  if (!isJsonContentType(req.headers['content-type'])) return raw.length ? raw.toString('utf8') : undefined;
  if (raw.length === 0) throw new HttpError(400, ErrorCode.BAD_REQUEST, 'Request body is empty');
  let body: unknown;
  try {
    // V8's JSON.parse does not recurse, so any depth parses; what comes next may recurse.
    body = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new HttpError(400, ErrorCode.BAD_REQUEST, 'Request body is not valid JSON');
  }
  assertJsonDepth(body, 'Request body');
  return body;
}

export function toHeaderMap(req: IncomingMessage): HeaderMap {
  const headers = new HeaderMap();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
  }
  return headers;
}

/**
 * Hands one HTTP request to Apollo Server and writes its answer: the glue
 * `@apollo/server` leaves to each integration.
 */
export async function executeGraphQL<C extends BaseContext>(
  apollo: ApolloServer<C>,
  req: IncomingMessage,
  res: ServerResponse,
  request: {
    body: unknown;
    context: ContextThunk<C>;
    headers?: Record<string, string>;
    /** The query string to use instead of the URL's (a GET whose parameters the caller rewrote). */
    search?: string;
    /** Operations of a batch answered before GraphQL (refused), by index: their answers take their places. */
    answered?: ReadonlyMap<number, unknown>;
  },
): Promise<void> {
  const search = request.search ?? new URL(req.url ?? '/', 'http://localhost').search;
  const batch = Array.isArray(request.body) ? request.body : undefined;
  const answered = batch && request.answered?.size ? request.answered : undefined;
  const toRun = answered ? batch!.filter((_, index) => !answered.has(index)) : request.body;
  const response =
    answered && Array.isArray(toRun) && toRun.length === 0
      ? {
          status: 200,
          headers: new HeaderMap([['content-type', graphqlMediaType(req.headers.accept) ?? APPLICATION_JSON]]),
          body: { kind: 'complete' as const, string: '[]' },
        }
      : await apollo.executeHTTPGraphQLRequest({
          httpGraphQLRequest: {
            method: (req.method ?? 'GET').toUpperCase(),
            headers: toHeaderMap(req),
            search,
            body: toRun,
          },
          context: request.context,
        });
  for (const [key, value] of response.headers) res.setHeader(key, value);
  for (const [key, value] of Object.entries(request.headers ?? {})) res.setHeader(key, value);
  res.statusCode = response.status ?? 200;
  if (response.body.kind === 'complete') {
    let text = response.body.string;
    if (batch && text.startsWith('[')) {
      // A batch is answered 200 with each operation's errors in its own answer, as Apollo's
      // BatchHttpLink reads it; Apollo gives the whole batch the status one failed operation set.
      res.statusCode = 200;
      if (answered) {
        text = JSON.stringify(mergeBatchAnswers(batch.length, answered, JSON.parse(text) as unknown[]));
        // An answer holding a refusal is not one to reuse.
        res.setHeader('cache-control', 'no-store');
      }
    }
    res.end(text);
    return;
  }
  for await (const chunk of response.body.asyncIterator) res.write(chunk);
  res.end();
}

/** The answers of a batch in its order: those given by index, the others from `ran`, in turn. */
function mergeBatchAnswers(size: number, answered: ReadonlyMap<number, unknown>, ran: readonly unknown[]): unknown[] {
  let next = 0;
  return Array.from({ length: size }, (_, index) => (answered.has(index) ? answered.get(index) : ran[next++]));
}

export function listen(server: Server, port: number, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      const address = server.address() as AddressInfo;
      const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
      resolve(`http://${shown}:${address.port}`);
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}

/**
 * An HTTP server around `handle`: coded errors keep their status and code,
 * a failed downstream call is a 502, anything else a bare 500 with the
 * details in the log only.
 */
export function createHttpServer(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  options: {
    log: Logger;
    headers?: Record<string, string>;
    /**
     * Whether what is done for a request runs in its request scope
     * (AsyncLocalStorage), so that every line it logs and every internal call
     * it makes carries its request id without being told (the default). A
     * server that passes the id along itself says false: on Node 20 an
     * AsyncLocalStorage in use makes every promise of the process pay an
     * async hook. Either way the request's id is in its `x-request-id` header.
     */
    requestScope?: boolean;
  },
): Server {
  const headers = options.headers ?? {};
  const server = http.createServer(
    options.requestScope === false
      ? (req, res) => {
          requestIdOf(req);
          serve(req, res);
        }
      : // Everything done for a request, and every line it logs, carries its request id.
        (req, res) => withRequestId(requestIdOf(req), () => serve(req, res)),
  );
  const serve = (req: IncomingMessage, res: ServerResponse) => {
    // While the server closes, a keep-alive connection that was busy is closed as soon as its
    // response is done; left idle, it would hold close() (and a drain) open until its idle timeout.
    res.once('finish', () => {
      if (!server.listening) server.closeIdleConnections();
    });
    handle(req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return sendRequestError(req, res, error, headers);
      const code = (error as { extensions?: { code?: unknown } }).extensions?.code;
      if (code === ErrorCode.DOWNSTREAM_SERVICE_ERROR && !res.headersSent) {
        return sendRequestError(req, res, new HttpError(502, code, (error as Error).message), headers);
      }
      // A client that hung up mid-request is not a server fault.
      if (
        req.destroyed ||
        (error as { code?: string }).code === 'ECONNRESET' ||
        (error as Error).message === 'aborted'
      ) {
        options.log.debug({ requestId: req.headers[REQUEST_ID_HEADER], url: req.url }, 'client went away');
        return res.destroy();
      }
      options.log.error({ err: error, requestId: req.headers[REQUEST_ID_HEADER], url: req.url }, 'request failed');
      if (!res.headersSent)
        sendRequestError(
          req,
          res,
          new HttpError(500, ErrorCode.INTERNAL_SERVER_ERROR, 'Internal server error'),
          headers,
        );
      else res.destroy();
    });
  };
  // Longer than common load balancers' idle timeouts, so they close first.
  server.keepAliveTimeout = 65_000;
  return server;
}
