import type { Scenario } from '../lib/bench';
import { hotCachedQuery } from './hotCachedQuery';
import { pipelineOverhead } from './pipelineOverhead';

/** Every scenario, in the order a full run measures them. Add one: write it next to this file and list it here. */
export const SCENARIOS: readonly Scenario[] = [pipelineOverhead, hotCachedQuery];
