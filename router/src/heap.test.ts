import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROUTER_MAX_OLD_SPACE_MB, ROUTER_MAX_SEMI_SPACE_MB, routerNodeOptions } from './heap';

const OLD = `--max-old-space-size=${ROUTER_MAX_OLD_SPACE_MB}`;
const SEMI = `--max-semi-space-size=${ROUTER_MAX_SEMI_SPACE_MB}`;

/** The node flags deploy/image/entrypoint.sh gives the router under `nodeOptions`, read from the script's own lines. */
function entrypointHeap(nodeOptions: string): string[] {
  const script = readFileSync(new URL('../../deploy/image/entrypoint.sh', import.meta.url), 'utf8');
  const lines = script.split('\n').filter((line) => /^(router_heap=|case "\$\{NODE_OPTIONS)/.test(line));
  const out = execFileSync('sh', ['-c', `${lines.join('\n')}\necho $router_heap`], {
    env: { PATH: process.env.PATH, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  return out.trim().split(/\s+/).filter(Boolean);
}

describe('the router heap settings', () => {
  it('are the ones the image and npm start run the router with', () => {
    const entrypoint = readFileSync(
      fileURLToPath(new URL('../../deploy/image/entrypoint.sh', import.meta.url)),
      'utf8',
    );
    expect(entrypoint).toMatch(/router\) exec node .*\$router_heap .*router\/dist\/main\.js/);
    expect(entrypointHeap('')).toEqual([OLD, SEMI]);
    expect(entrypointHeap('')).toEqual(routerNodeOptions(''));
    const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      scripts: { start: string };
    };
    expect(pkg.scripts.start).toContain(`${OLD} ${SEMI}`);
  });

  it('leave out each flag NODE_OPTIONS already names', () => {
    for (const nodeOptions of [
      '--max-old-space-size=1024',
      '--max-semi-space-size=64',
      '--max-old-space-size=1024 --max-semi-space-size=64',
    ]) {
      const expected = [OLD, SEMI].filter((flag) => !nodeOptions.includes(flag.split('=')[0]!));
      expect(routerNodeOptions(nodeOptions)).toEqual(expected);
      expect(entrypointHeap(nodeOptions)).toEqual(expected);
    }
  });
});
