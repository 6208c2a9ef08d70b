import { describe, expect, it } from 'vitest';
import { prepareForGateway } from './supergraph';

describe('prepareForGateway', () => {
  it('hands the security features the router enforces to the gateway as plain links', () => {
    const sdl = `schema
  @link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/requiresScopes/v0.1", for: SECURITY)
  @link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)`;
    const prepared = prepareForGateway(sdl);
    expect(prepared).toContain('@link(url: "https://specs.apollo.dev/authenticated/v0.1")');
    expect(prepared).toContain('@link(url: "https://specs.apollo.dev/requiresScopes/v0.1")');
    // Anything the router does not enforce stays, so the gateway refuses to serve it unenforced.
    expect(prepared).toContain('@link(url: "https://specs.apollo.dev/policy/v0.1", for: SECURITY)');
  });
});
