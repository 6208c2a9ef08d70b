import { signViewer, type Viewer } from '@memegraph/service-kit';

export interface RouterContext {
  viewer: Viewer;
  /** The viewer signed for subgraphs; signed once per request, on first use. */
  signedViewer: () => Promise<string>;
}

export function createRouterContext(viewer: Viewer, signingKey: Uint8Array): RouterContext {
  let signed: Promise<string> | undefined;
  return {
    viewer,
    signedViewer: () => (signed ??= signViewer(viewer, signingKey)),
  };
}
