import autocannon from 'autocannon';

/** One HTTP request a scenario sends, over and over. */
export interface HttpRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  /** A function makes a body per request, e.g. to make every request distinct. */
  body?: string | (() => string);
}

/** Why an answer is wrong, or null when it is right. */
export type ResponseCheck = (status: number, body: unknown, headers: Headers) => string | null;

const bodyOf = (request: HttpRequest) => (typeof request.body === 'function' ? request.body() : request.body);

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
}

/** Several slices of load on one target, added up. */
export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  seconds: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number };
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  /** A workload of one request should answer the same size every time. */
  responseBytes: { min: number; max: number };
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
    body: typeof variables === 'function' ? () => JSON.stringify({ query, variables: variables() }) : JSON.stringify(variables ? { query, variables } : { query }),
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

/**
 * Sends `count` requests, a few at a time, and throws unless every answer
 * passes `check`: a misconfigured target must fail here, not post a fast
 * number made of errors.
 */
export async function validate(url: string, request: HttpRequest, check: ResponseCheck, count = 20): Promise<Sample> {
  let sample: Sample | undefined;
  const one = async () => {
    const response = await fetch(url, { method: request.method, headers: request.headers, body: bodyOf(request), signal: AbortSignal.timeout(10_000) });
    const bytes = Buffer.from(await response.arrayBuffer());
    let body: unknown;
    try {
      body = JSON.parse(bytes.toString('utf8'));
    } catch {
      body = undefined;
    }
    const problem = check(response.status, body, response.headers);
    if (problem) throw new Error(`${url} answered wrongly: ${problem}\n${bytes.toString('utf8').slice(0, 500)}`);
    sample ??= { body: bytes, contentType: response.headers.get('content-type') ?? 'application/json' };
  };
  const parallel = 4;
  for (let sent = 0; sent < count; sent += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, count - sent) }, one));
  }
  return sample!;
}

/** Keeps `connections` connections busy with `request` for `seconds` and reports what came back. */
export function runLoad(url: string, request: HttpRequest, options: { seconds: number; connections: number }): Promise<LoadSlice> {
  return new Promise((resolve, reject) => {
    const latenciesMs: number[] = [];
    const sizes = { min: Number.POSITIVE_INFINITY, max: 0 };
    const { body } = request;
    const instance = autocannon(
      {
        url,
        method: request.method,
        headers: request.headers,
        ...(typeof body === 'function'
          ? { requests: [{ setupRequest: (template: autocannon.Request) => ({ ...template, body: body() }) }] }
          : { body }),
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
        });
      },
    );
    instance.on('response', (_client, _status, bytes, responseTime) => {
      latenciesMs.push(responseTime);
      if (bytes < sizes.min) sizes.min = bytes;
      if (bytes > sizes.max) sizes.max = bytes;
    });
  });
}

/** Slices of load on one target as one result; percentiles over every answer. */
export function combine(slices: readonly LoadSlice[]): LoadResult {
  const latencies = Float64Array.from(slices.flatMap((s) => s.latenciesMs)).sort();
  const at = (quantile: number) => (latencies.length ? latencies[Math.min(latencies.length - 1, Math.ceil(quantile * latencies.length) - 1)]! : 0);
  const seconds = slices.reduce((sum, s) => sum + s.seconds, 0);
  const sum = (pick: (s: LoadSlice) => number) => slices.reduce((total, s) => total + pick(s), 0);
  const answered = slices.filter((s) => s.latenciesMs.length > 0);
  return {
    requestsPerSecond: seconds > 0 ? latencies.length / seconds : 0,
    requests: latencies.length,
    seconds,
    latencyMs: { p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) },
    non2xx: sum((s) => s.non2xx),
    socketErrors: sum((s) => s.socketErrors),
    timeouts: sum((s) => s.timeouts),
    responseBytes: answered.length
      ? { min: Math.min(...answered.map((s) => s.responseBytes.min)), max: Math.max(...answered.map((s) => s.responseBytes.max)) }
      : { min: 0, max: 0 },
  };
}
