import type { Viewer, ViewerSigner } from '@memegraph/service-kit';

/** What the pipeline learns about a request, for its log line and metrics. */
export interface RequestReport {
  requestId: string;
  operationName?: string;
  cache?: 'HIT' | 'MISS' | 'STALE';
  cost?: number;
  rejection?: string;
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
