import { Scope, hasScope, type Viewer } from '@memegraph/service-kit';

/**
 * AI memes are the Memes AI (premium) product: only viewers holding the
 * `memes:ai` scope may ever receive one, through any path. Other services
 * calling internally see the whole catalog.
 */
export const canSeeAi = (viewer: Viewer): boolean => viewer.kind === 'service' || hasScope(viewer, Scope.AI);

/**
 * The SQL condition that keeps AI memes from those who may not see them.
 * A constant fragment rather than a parameter, so the planner can use the
 * partial indexes built for the common (human-only) case.
 */
export const visibleSql = (seeAi: boolean, alias = 'm'): string => (seeAi ? 'TRUE' : `${alias}.origin = 'HUMAN'`);
