import type { Scenario } from '../lib/bench';
import { aiBurst } from './aiBurst';
import { hotCachedQuery } from './hotCachedQuery';
import { largeCachedPage } from './largeCachedPage';
import { mixedReadWrite } from './mixedReadWrite';
import { pipelineOverhead } from './pipelineOverhead';
import { uncachedCrossSubgraph } from './uncachedCrossSubgraph';
import { uniqueMisses } from './uniqueMisses';

/** Every scenario, in the order a full run measures them. Add one: write it next to this file and list it here. */
export const SCENARIOS: readonly Scenario[] = [
  pipelineOverhead,
  hotCachedQuery,
  largeCachedPage,
  uncachedCrossSubgraph,
  uniqueMisses,
  mixedReadWrite,
  aiBurst,
];
