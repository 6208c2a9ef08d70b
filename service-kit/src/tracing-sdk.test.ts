import { ROOT_CONTEXT, defaultTextMapGetter, defaultTextMapSetter, trace } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { OutgoingTraceContext } from './tracing-sdk';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

describe("the router's trace context when clients are not trusted", () => {
  const propagator = new OutgoingTraceContext();

  it("does not continue a client's traceparent", () => {
    const carrier = { traceparent: `00-${TRACE_ID}-${SPAN_ID}-01`, tracestate: 'vendor=1' };
    const context = propagator.extract(ROOT_CONTEXT, carrier, defaultTextMapGetter);
    expect(trace.getSpanContext(context)).toBeUndefined();
  });

  it('still sends its own to the services it calls', () => {
    const context = trace.setSpanContext(ROOT_CONTEXT, { traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    const headers: Record<string, string> = {};
    propagator.inject(context, headers, defaultTextMapSetter);
    expect(headers).toEqual({ traceparent: `00-${TRACE_ID}-${SPAN_ID}-01` });
    expect(propagator.fields()).toEqual(['traceparent', 'tracestate']);
  });
});
