import { readFileSync, writeFileSync } from 'node:fs';
import { SUPERGRAPH_PATH } from './compose';
import { REFERENCE_PATH, renderReference } from './reference';

// `npm run schema:reference` writes docs/api.md from the committed supergraph; `npm run schema:check` says whether it is current.
writeFileSync(REFERENCE_PATH, await renderReference(readFileSync(SUPERGRAPH_PATH, 'utf8')));
console.log(`wrote ${REFERENCE_PATH}`);
