/**
 * An Apollo persisted query manifest (`persisted-query-manifest.json`), as
 * `@apollo/generate-persisted-query-manifest` writes it and the router's
 * trusted-documents mode reads it.
 */
export interface PersistedQueryManifest {
  format: 'apollo-persisted-query-manifest';
  version: 1;
  operations: PersistedQueryManifestOperation[];
}

export interface PersistedQueryManifestOperation {
  /** What the client sends as `extensions.persistedQuery.sha256Hash`: the SHA-256 of `body`. */
  id: string;
  name: string;
  type: 'query' | 'mutation' | 'subscription';
  /** The operation as the client runs it, with the `__typename` fields the cache adds. */
  body: string;
}
