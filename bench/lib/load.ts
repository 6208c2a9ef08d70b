import autocannon from 'autocannon';

/** One request, as sent: its headers and body. */
export interface RequestVariant {
  headers: Record<string, string>;
  body: string;
}

/** One HTTP request a scenario sends, over and over. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /**
   * A function makes each request anew: a body of its own (e.g. distinct
   * variables), or a body with headers of its own on top of `headers`
   * (e.g. another viewer, another operation).
   */
  body?: string | (() => string | RequestVariant);
}

/** An answer's headers, by case-insensitive name: fetch's `Headers`, or those autocannon hands over under load. */
export type AnswerHeaders = Pick<Headers, 'get' | 'has'>;

/** Why an answer is wrong, or null when it is right. */
export type ResponseCheck = (status: number, body: unknown, headers: AnswerHeaders) => string | null;

/**
 * The error code of an answer that is a refusal the scenario expects (e.g.
 * QUEUE_OVERLOADED under a burst), or null for any other answer. Such
 * answers are counted apart, not as errors.
 */
export type RejectionCheck = (status: number, body: unknown) => string | null;

/** How answers are checked while the load runs: every one, against `check`, after `rejection`. */
export interface UnderLoadCheck {
  check: ResponseCheck;
  rejection?: RejectionCheck;
}

/**
 * The headers and body of the next request. The headers are always a copy:
 * autocannon writes each request's Content-Length into the headers object
 * it is handed, and a later check sending `request.headers` would then send
 * the last load request's length with a body of another length.
 */
function nextRequest(request: HttpRequest): { headers: Record<string, string>; body: string | undefined } {
  const made = typeof request.body === 'function' ? request.body() : request.body;
  if (typeof made === 'object') return { headers: { ...request.headers, ...made.headers }, body: made.body };
  return { headers: { ...request.headers }, body: made };
}

export interface Sample {
  /** The body of the first answer, byte for byte. */
  body: Buffer;
  contentType: string;
}

/** What one run of load brought back. */
export interface LoadSlice {
  seconds: number;
  /** Response time of every answer, in ms. */
  latenciesMs: number[];
  non2xx: number;
  /** Connection errors and timeouts. */
  socketErrors: number;
  timeouts: number;
  /** Smallest and largest answer (headers and body). */
  responseBytes: { min: number; max: number };
  /** Set when every answer was checked: wrong answers by reason, expected refusals by code, and the right answers' latencies. */
  checked?: { problems: Record<string, number>; rejections: Record<string, number>; servedLatenciesMs: number[] };
}

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Several slices of load on one target, added up. */
export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  seconds: number;
  latencyMs: Percentiles;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  /** A workload of one request should answer the same size every time. */
  responseBytes: { min: number; max: number };
  /** Set when every answer was checked (see LoadSlice). */
  checked?: {
    problems: Record<string, number>;
    rejections: Record<string, number>;
    servedLatencyMs: Percentiles;
    served: number;
  };
}

/** A GraphQL POST with a JSON body; `variables` may be a function, to vary them per request. */
export function graphqlRequest(
  query: string,
  variables?: Record<string, unknown> | (() => Record<string, unknown>),
  headers: Record<string, string> = {},
): HttpRequest {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body:
      typeof variables === 'function'
        ? () => JSON.stringify({ query, variables: variables() })
        : JSON.stringify(variables ? { query, variables } : { query }),
  };
}

/** HTTP 200 with data and no errors: what a served query must look like. */
export const servedWithoutErrors: ResponseCheck = (status, body) => {
  if (status !== 200) return `HTTP ${status}`;
  if (typeof body !== 'object' || body === null) return 'the body is not a JSON object';
  if ('errors' in body) return `errors: ${JSON.stringify(body.errors).slice(0, 300)}`;
  if (!('data' in body) || typeof body.data !== 'object' || body.data === null) return 'no data';
  return null;
};

/** Counts of one record added into another, key by key; returns `into`. */
export function addCounts(into: Record<string, number>, from: Record<string, number>): Record<string, number> {
  for (const [key, count] of Object.entries(from)) into[key] = (into[key] ?? 0) + count;
  return into;
}

/** All the counts of a record, added up. */
export const sumOf = (counts: Record<string, number>): number => Object.values(counts).reduce((sum, n) => sum + n, 0);

/**
 * The headers autocannon hands `onResponse` (names as the server wrote them,
 * repeated ones as arrays), looked up only when a check asks: most checks
 * under load never do, and a `Headers` built for every answer (a few µs)
 * is load-generator CPU taken from the servers on a small machine.
 */
function answerHeaders(received: Record<string, string | string[] | undefined>): AnswerHeaders {
  const get = (name: string) => {
    const wanted = name.toLowerCase();
    for (const key in received) {
      if (key.toLowerCase() !== wanted) continue;
      const value = received[key];
      if (value !== undefined) return Array.isArray(value) ? value.join(', ') : value;
    }
    return null;
  };
  return { get, has: (name) => get(name) !== null };
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
};

/**
 * Sends `count` requests, a few at a time, and throws unless every answer
 * passes `check`: a misconfigured target must fail here, not post a fast
 * number made of errors.
 */
export async function validate(url: string, request: HttpRequest, check: ResponseCheck, count = 20): Promise<Sample> {
  let sample: Sample | undefined;
  const one = async () => {
    const { headers, body: sent } = nextRequest(request);
    // Generous: a check is about the answer, and a cold server on a busy machine can take seconds over its first ones.
    const response = await fetch(url, {
      method: request.method,
      headers,
      body: sent,
      signal: AbortSignal.timeout(30_000),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const problem = check(response.status, parseJson(bytes.toString('utf8')), response.headers);
    if (problem) throw new Error(`${url} answered wrongly: ${problem}\n${bytes.toString('utf8').slice(0, 500)}`);
    sample ??= { body: bytes, contentType: response.headers.get('content-type') ?? 'application/json' };
  };
  const parallel = 4;
  for (let sent = 0; sent < count; sent += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, count - sent) }, one));
  }
  return sample!;
}

/** Reasons kept per slice; more distinct ones are counted under one. */
const MAX_REASONS = 20;

/**
 * Keeps `connections` connections busy with `request` for `seconds` and
 * reports what came back; with `check`, every answer is checked on arrival.
 */
export function runLoad(
  url: string,
  request: HttpRequest,
  options: { seconds: number; connections: number; check?: UnderLoadCheck },
): Promise<LoadSlice> {
  return new Promise((resolve, reject) => {
    const latenciesMs: number[] = [];
    const sizes = { min: Number.POSITIVE_INFINITY, max: 0 };
    const { check } = options;
    const checked = check
      ? {
          problems: {} as Record<string, number>,
          rejections: {} as Record<string, number>,
          servedLatenciesMs: [] as number[],
        }
      : undefined;
    // Set by onResponse and read by the 'response' event that autocannon emits right after it, for the same answer.
    let servedLast = false;
    const onResponse = (
      status: number,
      text: string,
      _context: object,
      received: Record<string, string | string[] | undefined> | undefined,
    ) => {
      if (!check || !checked) return;
      const body = parseJson(text);
      const code = check.rejection?.(status, body);
      if (code) {
        checked.rejections[code] = (checked.rejections[code] ?? 0) + 1;
        servedLast = false;
        return;
      }
      const problem = check.check(status, body, answerHeaders(received ?? {}));
      servedLast = problem === null;
      if (problem === null) return;
      const reasons = checked.problems;
      const reason = problem in reasons || Object.keys(reasons).length < MAX_REASONS ? problem : 'other reasons';
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    };
    const vary = typeof request.body === 'function';
    const instance = autocannon(
      {
        url,
        method: request.method,
        headers: request.headers,
        ...(vary ? {} : { body: request.body as string | undefined }),
        ...(vary || check
          ? {
              requests: [
                {
                  ...(vary
                    ? { setupRequest: (template: autocannon.Request) => ({ ...template, ...nextRequest(request) }) }
                    : {}),
                  ...(check ? { onResponse } : {}),
                },
              ],
            }
          : {}),
        connections: options.connections,
        duration: options.seconds,
        pipelining: 1,
        timeout: 10,
      },
      (error: unknown, result) => {
        if (error) return reject(error instanceof Error ? error : new Error(String(error)));
        resolve({
          seconds: result.duration,
          latenciesMs,
          non2xx: result.non2xx,
          socketErrors: result.errors,
          timeouts: result.timeouts,
          responseBytes: { min: Number.isFinite(sizes.min) ? sizes.min : 0, max: sizes.max },
          ...(checked ? { checked } : {}),
        });
      },
    );
    instance.on('response', (_client, _status, bytes, responseTime) => {
      latenciesMs.push(responseTime);
      if (servedLast) checked?.servedLatenciesMs.push(responseTime);
      servedLast = false;
      if (bytes < sizes.min) sizes.min = bytes;
      if (bytes > sizes.max) sizes.max = bytes;
    });
  });
}

function percentiles(values: readonly number[]): Percentiles {
  const sorted = Float64Array.from(values).sort();
  const at = (quantile: number) =>
    sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil(quantile * sorted.length) - 1)]! : 0;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) };
}

/** Slices of load on one target as one result; percentiles over every answer. */
export function combine(slices: readonly LoadSlice[]): LoadResult {
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  const sum = (pick: (s: LoadSlice) => number) => slices.reduce((total, s) => total + pick(s), 0);
  const answered = slices.filter((s) => s.latenciesMs.length > 0);
  const requests = sum((s) => s.latenciesMs.length);
  const checkedSlices = slices.flatMap((s) => (s.checked ? [s.checked] : []));
  const served = checkedSlices.flatMap((c) => c.servedLatenciesMs);
  return {
    requestsPerSecond: seconds > 0 ? requests / seconds : 0,
    requests,
    seconds,
    latencyMs: percentiles(slices.flatMap((s) => s.latenciesMs)),
    non2xx: sum((s) => s.non2xx),
    socketErrors: sum((s) => s.socketErrors),
    timeouts: sum((s) => s.timeouts),
    responseBytes: answered.length
      ? {
          min: Math.min(...answered.map((s) => s.responseBytes.min)),
          max: Math.max(...answered.map((s) => s.responseBytes.max)),
        }
      : { min: 0, max: 0 },
    ...(checkedSlices.length
      ? {
          checked: {
            problems: checkedSlices.reduce((all, c) => addCounts(all, c.problems), {}),
            rejections: checkedSlices.reduce((all, c) => addCounts(all, c.rejections), {}),
            servedLatencyMs: percentiles(served),
            served: served.length,
          },
        }
      : {}),
  };
}
