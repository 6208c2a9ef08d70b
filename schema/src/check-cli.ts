import { readFileSync, writeFileSync } from 'node:fs';
import { ACKNOWLEDGED_PATH, RELEASED_API_PATH, apiSchemaSdl, compareWithRelease, readAcknowledged } from './breaking';
import { SUPERGRAPH_PATH, composeSupergraph } from './compose';
import { REFERENCE_PATH, renderReference } from './reference';

/*
 * `npm run schema:check`: fails when the committed supergraph is not what the
 * subgraph schemas compose to, or when the API breaks clients of the last
 * release without the change being acknowledged in
 * schema/release/acknowledged-breaking-changes.json.
 *
 * `npm run schema:release`: records the current API schema as released and
 * clears the acknowledgements (run it when a release ships).
 */
const committed = readFileSync(SUPERGRAPH_PATH, 'utf8');

if (process.argv.includes('--release')) {
  writeFileSync(RELEASED_API_PATH, apiSchemaSdl(committed));
  writeFileSync(ACKNOWLEDGED_PATH, '[]\n');
  console.log(`recorded the API schema of ${SUPERGRAPH_PATH} as released: ${RELEASED_API_PATH}`);
  process.exit(0);
}

let failed = false;
if (committed !== composeSupergraph()) {
  console.error('✗ schema/supergraph.graphql is stale: run `npm run compose`');
  failed = true;
} else {
  console.log('✓ schema/supergraph.graphql is what the subgraph schemas compose to');
}

if (readFileSync(REFERENCE_PATH, 'utf8') !== (await renderReference(committed))) {
  console.error('✗ docs/api.md is stale: run `npm run schema:reference`');
  failed = true;
} else {
  console.log('✓ docs/api.md is the reference generated from schema/supergraph.graphql');
}

const report = compareWithRelease(readFileSync(RELEASED_API_PATH, 'utf8'), apiSchemaSdl(committed), readAcknowledged());
for (const change of report.breaking) {
  const known = !report.unacknowledged.includes(change);
  console.log(`${known ? '  acknowledged' : '✗ BREAKING'} ${change.type}: ${change.description}`);
}
for (const change of report.dangerous) console.log(`  dangerous ${change.type}: ${change.description}`);
for (const stale of report.stale) console.log(`  acknowledged but not found (remove it): ${stale.description}`);
if (report.unacknowledged.length > 0) {
  console.error(
    `✗ ${report.unacknowledged.length} breaking change(s) against the last release. Keep the old fields (deprecate them), ` +
      `or add each description with a reason to ${ACKNOWLEDGED_PATH}.`,
  );
  failed = true;
} else {
  console.log(
    `✓ no unacknowledged breaking change against the last release (${report.breaking.length} acknowledged, ${report.dangerous.length} dangerous)`,
  );
}
process.exit(failed ? 1 : 0);
