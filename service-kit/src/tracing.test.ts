import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import {
  currentRequestId,
  injectTraceContext,
  linksTo,
  logContextFields,
  requestIdOf,
  traceCarrier,
  withRequestId,
} from './tracing';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('request ids', () => {
  it("keep a caller's plausible id and replace anything else, for every later reader", () => {
    expect(requestIdOf(request({ 'x-request-id': 'abc-123:4.5' }))).toBe('abc-123:4.5');
    for (const given of ['', 'has space', 'x'.repeat(101), '<script>']) {
      const req = request({ 'x-request-id': given });
      const id = requestIdOf(req);
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(req.headers['x-request-id']).toBe(id);
    }
  });

  it('are on the log fields of everything done for the request, and only there', async () => {
    expect(logContextFields()).toEqual({});
    await withRequestId('req-1', async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      expect(currentRequestId()).toBe('req-1');
      expect(logContextFields()).toEqual({ requestId: 'req-1' });
    });
    expect(currentRequestId()).toBeUndefined();
  });
});

describe('trace context with tracing off', () => {
  it('adds no header, makes no carrier and no link', () => {
    expect(injectTraceContext({ a: 'b' })).toEqual({ a: 'b' });
    expect(traceCarrier()).toBeUndefined();
    expect(linksTo(undefined)).toEqual([]);
    expect(logContextFields()).not.toHaveProperty('trace_id');
  });
});
