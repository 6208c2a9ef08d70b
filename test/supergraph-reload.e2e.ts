import { copyFileSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from './support/accounts';
import { routerClient } from './support/client';
import { GENEROUS_ANONYMOUS, startStack, type Stack } from './support/stack';

const COMMITTED = fileURLToPath(new URL('../schema/supergraph.graphql', import.meta.url));
let stack: Stack;
let file: string;

beforeAll(async () => {
  file = path.join(mkdtempSync(path.join(tmpdir(), 'memegraph-supergraph-')), 'supergraph.graphql');
  copyFileSync(COMMITTED, file);
  stack = await startStack({
    users: 10,
    memes: 30,
    routerEnv: { TIERS_JSON: GENEROUS_ANONYMOUS, SUPERGRAPH_PATH: file },
  });
});
afterAll(() => stack?.close());

describe('supergraph reload', () => {
  it('a new supergraph on disk is served without dropping or failing a request; a broken one is refused', async () => {
    const client = routerClient(stack.routerUrl);
    let stop = false;
    const outcomes: number[] = [];
    // Traffic the whole time; uncacheable, so every request is planned and executed.
    const traffic = (async () => {
      while (!stop) {
        const r = await client(`{ randomMeme { id title author { handle } } }`);
        outcomes.push(r.status === 200 && !r.body.errors ? 0 : 1);
      }
    })();

    const marker = 'Reloaded while serving';
    const next = readFileSync(COMMITTED, 'utf8').replace('The templates memes are made from.', marker);
    expect(next).toContain(marker);
    // Written the way deploy tools do: a new file moved into place.
    writeFileSync(`${file}.next`, next);
    renameSync(`${file}.next`, file);
    await eventually(
      async () => (await (await fetch(`${stack.routerUrl}/schema.graphql`)).text()).includes(marker),
      5_000,
      100,
    );

    writeFileSync(`${file}.next`, 'this is not a supergraph');
    renameSync(`${file}.next`, file);
    await new Promise((r) => setTimeout(r, 800));
    expect(await (await fetch(`${stack.routerUrl}/schema.graphql`)).text()).toContain(marker);

    // Traffic went on across both reloads: wait for more answers after the last one, however slow the machine.
    const afterBroken = outcomes.length;
    await eventually(async () => outcomes.length >= afterBroken + 10, 30_000, 20);
    stop = true;
    await traffic;
    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.filter((o) => o !== 0)).toEqual([]);
  });
});
