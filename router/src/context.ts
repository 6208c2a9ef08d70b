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
}

export function createRouterContext(viewer: Viewer, sign: ViewerSigner, report: RequestReport): RouterContext {
  let signed: Promise<string> | undefined;
  return {
    viewer,
    report,
    signedViewer: () => (signed ??= sign(viewer)),
  };
}
