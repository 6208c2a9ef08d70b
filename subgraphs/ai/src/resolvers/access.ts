import { Scope, forbidden, hasScope, unauthenticated, type Viewer } from '@memegraph/service-kit';

/** Memes AI is for premium viewers; the router checks first, this checks again. */
export function requireAiViewer(viewer: Viewer): string {
  if (viewer.kind !== 'user') throw unauthenticated();
  if (!hasScope(viewer, Scope.AI)) throw forbidden('Memes AI needs a premium subscription');
  return viewer.userId;
}
