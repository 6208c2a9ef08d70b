import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routerClient } from './support/client';
import { subscribeTo } from './support/accounts';
import { startStack, type Stack } from './support/stack';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ users: 10, memes: 60 });
});
afterAll(() => stack?.close());

async function account(handle: string) {
  const response = await routerClient(stack.routerUrl)<{ signUp: { token: string; user: { id: string } } }>(
    `mutation($h: String!) { signUp(handle: $h, password: "such password very safe") { token user { id } } }`,
    { h: handle },
  );
  return {
    ...response.body.data!.signUp,
    client: routerClient(stack.routerUrl, { authorization: `Bearer ${response.body.data!.signUp.token}` }),
  };
}

const GENERATE = `mutation($input: GenerateMemeInput!) { generateMeme(input: $input) { id status queuePosition } }`;
const RESULT = `query($id: ID!) {
  generation(id: $id, waitSeconds: 5) {
    id status prompt provider error { code message }
    meme { id title topText bottomText origin imageUrl author { handle } template { id name } }
  }
}`;

/** Starts a generation and waits for it, as a client would. */
async function generate(
  client: ReturnType<typeof routerClient>,
  input: Record<string, unknown>,
): Promise<Generated['generateMeme']> {
  const started = await client<{ generateMeme: { id: string; status: string } }>(GENERATE, { input });
  expect(started.body.errors).toBeUndefined();
  expect(['QUEUED', 'SUCCEEDED']).toContain(started.body.data!.generateMeme.status);
  const done = await client<{ generation: Generated['generateMeme'] }>(RESULT, {
    id: started.body.data!.generateMeme.id,
  });
  return done.body.data!.generation;
}

interface Generated {
  generateMeme: {
    id: string;
    status: string;
    provider: string;
    meme: {
      id: string;
      topText: string;
      bottomText: string;
      origin: string;
      imageUrl: string;
      author: { handle: string };
      template: { id: string };
    } | null;
  };
}

describe('generateMeme with the local provider', () => {
  it('a premium viewer gets a finished AI meme in the catalog whose image is an SVG with the caption', async () => {
    const premium = await account('ai_enjoyer');
    await subscribeTo(premium.client, 'PREMIUM');
    const generation = await generate(premium.client, { prompt: 'When the build is green on the first try' });
    expect(generation).toMatchObject({ status: 'SUCCEEDED', provider: 'local' });
    const meme = generation.meme!;
    expect(meme).toMatchObject({
      origin: 'AI',
      topText: 'When the build is green on the first try',
      author: { handle: 'ai_enjoyer' },
    });
    expect(meme.bottomText.length).toBeGreaterThan(0);

    // The meme is in the memes catalog, written by the memes subgraph.
    const rows = await stack.dbs.memes.query<{ origin: string; top_text: string }>(
      'SELECT origin, top_text FROM memes WHERE id = $1',
      [meme.id],
    );
    expect(rows).toEqual([{ origin: 'AI', top_text: meme.topText }]);

    const image = await fetch(meme.imageUrl);
    expect(image.status).toBe(200);
    expect(image.headers.get('content-type')).toContain('image/svg+xml');
    expect(image.headers.get('cache-control')).toContain('immutable');
    const svg = await image.text();
    expect(svg).toContain('<svg');
    // The captions as drawn: the text of every line, outside the accessible title.
    const drawn = [...svg.matchAll(/<tspan[^>]*>([^<]*)<\/tspan>/g)].map((m) => m[1]).join(' ');
    expect(drawn).toContain('WHEN THE BUILD IS GREEN ON THE FIRST TRY');
    expect(drawn).toContain(meme.bottomText.toUpperCase().replace(/&/g, '&amp;'));

    // The same image through the router's own origin.
    const viaRouter = await fetch(
      `${stack.routerUrl}${new URL(meme.imageUrl).pathname}${new URL(meme.imageUrl).search}`,
    );
    expect(viaRouter.status).toBe(200);
    expect(await viaRouter.text()).toBe(svg);

    const again = await premium.client<{ generation: { status: string; meme: { id: string } } }>(
      `query($id: ID!) { generation(id: $id) { status meme { id } } }`,
      { id: generation.id },
    );
    expect(again.body.data!.generation).toEqual({ status: 'SUCCEEDED', meme: { id: meme.id } });
  });

  it('is deterministic: the same prompt gives the same setup line on any template', async () => {
    const premium = await account('determinist');
    await subscribeTo(premium.client, 'ENTERPRISE');
    const input = { prompt: 'cats judging my code review', templateId: '1' };
    const first = (await generate(premium.client, input)).meme!;
    const second = (await generate(premium.client, { ...input, templateId: '2' })).meme!;
    expect(second.id).not.toBe(first.id);
    expect(first.template.id).toBe('1');
    expect(second.topText).toBe(first.topText);
  });

  it('a free viewer is refused with UNAUTHORIZED_FIELD_OR_TYPE and nothing is generated', async () => {
    const free = await account('just_free');
    const before = await stack.dbs.ai.query<{ n: string }>('SELECT count(*) AS n FROM generations');
    const response = await free.client<Generated>(GENERATE, { input: { prompt: 'let me in' } });
    expect(response.body.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');
    expect(response.status).toBe(403);
    const after = await stack.dbs.ai.query<{ n: string }>('SELECT count(*) AS n FROM generations');
    expect(after[0]!.n).toBe(before[0]!.n);
  });

  it('bad input gets BAD_USER_INPUT', async () => {
    const premium = await account('bad_inputs');
    await subscribeTo(premium.client, 'PREMIUM');
    const empty = await premium.client(GENERATE, { input: { prompt: '   ' } });
    expect(empty.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const unknownTemplate = await premium.client(GENERATE, { input: { prompt: 'hello', templateId: '987654' } });
    expect(unknownTemplate.body.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});
