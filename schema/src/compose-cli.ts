import { readFileSync, writeFileSync } from 'node:fs';
import { SUPERGRAPH_PATH, composeSupergraph } from './compose';

// `npm run compose` writes schema/supergraph.graphql; `-- --check` only says whether it is current.
const supergraph = composeSupergraph();
if (process.argv.includes('--check')) {
  const committed = readFileSync(SUPERGRAPH_PATH, 'utf8');
  if (committed !== supergraph) {
    console.error('schema/supergraph.graphql is stale: run `npm run compose`');
    process.exit(1);
  }
  console.log('schema/supergraph.graphql is current');
} else {
  writeFileSync(SUPERGRAPH_PATH, supergraph);
  console.log(`wrote ${SUPERGRAPH_PATH}`);
}
