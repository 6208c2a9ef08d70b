export interface GraphQLResponse<D = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: {
    data?: D | null;
    errors?: {
      message: string;
      path?: (string | number)[];
      extensions?: Record<string, unknown> & { code?: string };
    }[];
    extensions?: Record<string, unknown>;
  };
}

/** Sends one GraphQL operation over HTTP, as any client would. */
// Tests read answers of many shapes: the default answer type is deliberately loose.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function gql<D = Record<string, any>>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  headers: Record<string, string> = {},
): Promise<GraphQLResponse<D>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as GraphQLResponse<D>['body'],
  };
}

/** A client of the router at `baseUrl`, with optional credentials. */
export function routerClient(baseUrl: string, headers: Record<string, string> = {}) {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return <D = Record<string, any>>(query: string, variables: Record<string, unknown> = {}) =>
    gql<D>(`${baseUrl}/graphql`, query, variables, headers);
}
