import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { z } from 'zod';
import { isLoopbackAddress } from './address';
import { ErrorCode } from './errors';
import { HttpError } from './http';

/**
 * One Prometheus registry per service, with Node's defaults (event loop
 * delay, heap, CPU) and the service's name as a label on everything.
 */
export function createMetrics(service: string) {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    counter: <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Counter<L>({ name, help, labelNames, registers: [registry] }),
    gauge: <L extends string>(name: string, help: string, labelNames: readonly L[] = []) =>
      new Gauge<L>({ name, help, labelNames, registers: [registry] }),
    histogram: <L extends string>(name: string, help: string, labelNames: readonly L[] = [], buckets?: number[]) =>
      new Histogram<L>({ name, help, labelNames, registers: [registry], ...(buckets ? { buckets } : {}) }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** Latency buckets in seconds, from a cache hit to a slow AI call. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The variable every service reads for `/metrics` access (with `readConfig`). */
export const metricsEnv = {
  /** Opens `/metrics` to a scraper that is not on loopback: `Authorization: Bearer <token>`. */
  METRICS_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
};

export interface MetricsAccess {
  /** The bearer token that opens `/metrics` from any address; unset: loopback clients only. */
  token?: string;
  /** The client's address as the service decides it (the router reads trusted proxies); default: the socket's peer. */
  addressOf?: (req: IncomingMessage) => string;
}

const digest = (text: string) => createHash('sha256').update(text).digest();

/**
 * `/metrics` is for operators: it answers a loopback client, or one that
 * sends the configured token (compared in constant time, through digests of
 * equal length). Anyone else gets a coded 401 (a token is configured: send it)
 * or 403 (none is: ask from loopback).
 */
export function createMetricsGuard(access: MetricsAccess): (req: IncomingMessage) => void {
  const expected = access.token === undefined ? undefined : digest(access.token);
  return (req) => {
    const address = access.addressOf ? access.addressOf(req) : (req.socket.remoteAddress ?? '');
    if (isLoopbackAddress(address)) return;
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    if (expected && given !== undefined && timingSafeEqual(digest(given), expected)) return;
    if (expected)
      throw new HttpError(
        401,
        ErrorCode.UNAUTHENTICATED,
        '/metrics needs the metrics token (Authorization: Bearer <METRICS_TOKEN>)',
      );
    throw new HttpError(
      403,
      ErrorCode.FORBIDDEN,
      '/metrics answers loopback clients only; set METRICS_TOKEN to let a scraper elsewhere in',
    );
  };
}

/** Serves a registry at `/metrics` to those `guard` lets in. */
export async function serveMetrics(
  req: IncomingMessage,
  res: ServerResponse,
  registry: Registry,
  guard: (req: IncomingMessage) => void,
): Promise<void> {
  guard(req);
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' }).end(text);
}
