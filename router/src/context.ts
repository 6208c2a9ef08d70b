import { trace, type Span } from '@opentelemetry/api';
import type { Viewer, ViewerSigner } from '@memegraph/service-kit';

/** What the pipeline learns about a request, for its log line, metrics and trace. */
export interface RequestReport {
  requestId: string;
  operationName?: string;
  cache?: 'HIT' | 'MISS' | 'STALE';
  cost?: number;
  rejection?: string;
  /** The request's own span (the HTTP server's), when tracing records it. */
  span?: Span;
}

/** A report for a request arriving now: its span is the one active as it arrives (none without tracing). */
export function newReport(requestId: string): RequestReport {
  const span = trace.getActiveSpan();
  return span?.isRecording() ? { requestId, span } : { requestId };
}

/** Notes what the response cache did for the request, in its report and on its span. */
export function markCache(report: RequestReport, mark: 'HIT' | 'MISS' | 'STALE'): void {
  report.cache = mark;
  report.span?.setAttribute('memegraph.cache', mark);
}

export interface RouterContext {
  viewer: Viewer;
  report: RequestReport;
  /** The viewer signed for subgraphs; asked for once per request, on first use. */
  signedViewer: () => Promise<string>;
  /**
   * Set on the copy of the context an operation runs with when the response
   * cache holds a stale answer to it: subgraph calls then wait only briefly
   * (STALE_IF_ERROR_WAIT_MS) before that answer is served instead.
   */
  staleCopy?: boolean;
  /**
   * The request's fingerprint (see RequestFingerprints), for a request of one
   * operation: learnt with its answer when that answer is cacheable, so the
   * next such request is answered from the cache before Apollo.
   */
  fingerprint?: string;
}

export function createRouterContext(
  viewer: Viewer,
  sign: ViewerSigner,
  report: RequestReport,
  fingerprint?: string,
): RouterContext {
  let signed: Promise<string> | undefined;
  return {
    viewer,
    report,
    fingerprint,
    signedViewer: () => (signed ??= sign(viewer)),
  };
}
