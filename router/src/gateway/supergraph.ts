import { readFile } from 'node:fs/promises';
import { Supergraph } from '@apollo/federation-internals';

/** Security features this router enforces itself, before planning. */
const ENFORCED_BY_ROUTER = ['https://specs.apollo.dev/authenticated/', 'https://specs.apollo.dev/requiresScopes/'];

export interface LoadedSupergraph {
  /** The supergraph as written, with its security directives. */
  sdl: string;
  /** The same, with the router-enforced security features handed to the gateway as plain links. */
  gatewaySdl: string;
  /** Subgraph name → URL, overrides applied. */
  subgraphUrls: Map<string, string>;
}

/**
 * `@apollo/gateway` refuses supergraphs that link `for: SECURITY` features it
 * cannot enforce. This router enforces @authenticated and @requiresScopes
 * itself, so for those it drops the purpose; any other security feature
 * stays, and the gateway refuses it rather than serving it unenforced.
 */
export function prepareForGateway(sdl: string): string {
  return sdl.replace(/@link\(url: "([^"]+)", for: SECURITY\)/g, (link, url: string) =>
    ENFORCED_BY_ROUTER.some((prefix) => url.startsWith(prefix)) ? `@link(url: "${url}")` : link,
  );
}

export async function loadSupergraph(path: string, overrides: Record<string, string>): Promise<LoadedSupergraph> {
  const sdl = await readFile(path, 'utf8');
  const gatewaySdl = prepareForGateway(sdl);
  const subgraphUrls = new Map<string, string>();
  for (const { name, url } of Supergraph.build(gatewaySdl).subgraphsMetadata().values()) {
    subgraphUrls.set(name, overrides[name.toLowerCase()] ?? url);
  }
  for (const name of Object.keys(overrides)) {
    if (!subgraphUrls.has(name))
      throw new Error(`SUBGRAPH_URL_${name.toUpperCase()} names no subgraph of the supergraph`);
  }
  return { sdl, gatewaySdl, subgraphUrls };
}

/**
 * Watches the supergraph file and hands every valid new version to
 * `apply`; an invalid one is logged and the running schema kept.
 * Polling (not fs.watch) also catches editors and deploy tools that
 * replace the file rather than write it.
 */
export function watchSupergraph(
  path: string,
  overrides: Record<string, string>,
  current: string,
  apply: (next: LoadedSupergraph) => void,
  onError: (error: unknown) => void,
  intervalMs = 500,
): () => void {
  let last = current;
  let checking = false;
  const timer = setInterval(async () => {
    if (checking) return;
    checking = true;
    try {
      const sdl = await readFile(path, 'utf8');
      if (sdl === last) return;
      const next = await loadSupergraph(path, overrides);
      last = next.sdl;
      apply(next);
    } catch (error) {
      onError(error);
    } finally {
      checking = false;
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
