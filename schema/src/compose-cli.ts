import { writeFileSync } from 'node:fs';
import { SUPERGRAPH_PATH, composeSupergraph } from './compose';
import { REFERENCE_PATH, renderReference } from './reference';

// `npm run compose` writes schema/supergraph.graphql and the API reference generated from it (docs/api.md);
// `npm run schema:check` says whether both are current.
const supergraph = composeSupergraph();
writeFileSync(SUPERGRAPH_PATH, supergraph);
console.log(`wrote ${SUPERGRAPH_PATH}`);
writeFileSync(REFERENCE_PATH, await renderReference(supergraph));
console.log(`wrote ${REFERENCE_PATH}`);
