import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ROUTER_MAX_OLD_SPACE_MB } from './heap';

describe('the router heap limit', () => {
  it('is the one the image runs the router with', () => {
    const entrypoint = readFileSync(new URL('../../deploy/image/entrypoint.sh', import.meta.url), 'utf8');
    expect(entrypoint).toContain(`router_heap="--max-old-space-size=${ROUTER_MAX_OLD_SPACE_MB}"`);
    expect(entrypoint).toMatch(/router\) exec node .*\$router_heap .*router\/dist\/main\.js/);
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      scripts: { start: string };
    };
    expect(pkg.scripts.start).toContain(`--max-old-space-size=${ROUTER_MAX_OLD_SPACE_MB}`);
  });
});
