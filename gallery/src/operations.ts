import { gql, type TypedDocumentNode } from '@apollo/client';

/*
 * Every operation the gallery sends, one named operation per document.
 * `npm run manifest -w @memegraph/gallery` reads this file into
 * `persisted-query-manifest.json`, the safelist a router in trusted-documents
 * mode accepts: an operation added or changed here reaches that router only
 * once the manifest is regenerated and deployed with it.
 *
 * Objects select their `id` so InMemoryCache can normalize them: a vote's
 * new score then shows on every list that holds the meme. The result types
 * are written by hand next to each document; the unit test checks the
 * documents against the supergraph.
 */

export type Tier = 'ANONYMOUS' | 'FREE' | 'PREMIUM' | 'ENTERPRISE';
export type MemeOrigin = 'HUMAN' | 'AI';
export type GenerationStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface MemeCard {
  id: string;
  title: string;
  score: number;
  origin: MemeOrigin;
  imageUrl: string;
  author: { id: string; handle: string };
}

export interface MemeDetail extends MemeCard {
  topText: string;
  bottomText: string;
  template: { id: string; name: string };
}

export interface AuthPayload {
  token: string;
  expiresAt: string;
  user: { id: string; handle: string; tier: Tier };
}

export const TRENDING_MEMES: TypedDocumentNode<{ trending: (MemeCard & { template: { id: string; name: string } })[] }, { first?: number }> = gql`
  query TrendingMemes($first: Int = 10) {
    trending(first: $first) {
      id
      title
      score
      origin
      imageUrl
      author {
        id
        handle
      }
      template {
        id
        name
      }
    }
  }
`;

export const MEMES_PAGE: TypedDocumentNode<
  { memes: { edges: { cursor: string; node: MemeCard }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } },
  { first?: number; after?: string | null }
> = gql`
  query MemesPage($first: Int, $after: String) {
    memes(first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          title
          score
          origin
          imageUrl
          author {
            id
            handle
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

export const MEME_BY_ID: TypedDocumentNode<{ meme: MemeDetail | null }, { id: string }> = gql`
  query MemeById($id: ID!) {
    meme(id: $id) {
      id
      title
      topText
      bottomText
      score
      origin
      imageUrl
      author {
        id
        handle
      }
      template {
        id
        name
      }
    }
  }
`;

export const SEARCH_MEMES: TypedDocumentNode<{ search: Omit<MemeCard, 'origin'>[] }, { text: string }> = gql`
  query SearchMemes($text: String!) {
    search(text: $text) {
      id
      title
      score
      imageUrl
      author {
        id
        handle
      }
    }
  }
`;

export const ME: TypedDocumentNode<{ me: { id: string; handle: string; tier: Tier } | null }, Record<string, never>> = gql`
  query Me {
    me {
      id
      handle
      tier
    }
  }
`;

export const SIGN_UP: TypedDocumentNode<{ signUp: AuthPayload }, { handle: string; password: string; displayName?: string }> = gql`
  mutation SignUp($handle: String!, $password: String!, $displayName: String) {
    signUp(handle: $handle, password: $password, displayName: $displayName) {
      token
      expiresAt
      user {
        id
        handle
        tier
      }
    }
  }
`;

export const LOG_IN: TypedDocumentNode<{ logIn: AuthPayload }, { handle: string; password: string }> = gql`
  mutation LogIn($handle: String!, $password: String!) {
    logIn(handle: $handle, password: $password) {
      token
      expiresAt
      user {
        id
        handle
        tier
      }
    }
  }
`;

export const VOTE: TypedDocumentNode<{ vote: { id: string; score: number; viewerVote: number | null } }, { memeId: string; value: number }> = gql`
  mutation Vote($memeId: ID!, $value: Int!) {
    vote(memeId: $memeId, value: $value) {
      id
      score
      viewerVote
    }
  }
`;

export const SUBSCRIBE: TypedDocumentNode<
  { subscribe: { id: string; plan: Tier; status: 'ACTIVE' | 'CANCELED'; startedAt: string } },
  { plan: Exclude<Tier, 'ANONYMOUS'> }
> = gql`
  mutation Subscribe($plan: Tier!) {
    subscribe(plan: $plan) {
      id
      plan
      status
      startedAt
    }
  }
`;

export const GENERATE_MEME: TypedDocumentNode<{ generateMeme: { id: string; status: GenerationStatus; prompt: string } }, { prompt: string }> = gql`
  mutation GenerateMeme($prompt: String!) {
    generateMeme(input: { prompt: $prompt }) {
      id
      status
      prompt
    }
  }
`;

export const GENERATION: TypedDocumentNode<
  {
    generation: {
      id: string;
      status: GenerationStatus;
      prompt: string;
      provider: string;
      error: { code: string; message: string } | null;
      meme: { id: string; title: string; topText: string; bottomText: string; imageUrl: string } | null;
      createdAt: string;
      finishedAt: string | null;
    } | null;
  },
  { id: string }
> = gql`
  query Generation($id: ID!) {
    generation(id: $id) {
      id
      status
      prompt
      provider
      error {
        code
        message
      }
      meme {
        id
        title
        topText
        bottomText
        imageUrl
      }
      createdAt
      finishedAt
    }
  }
`;

/** All of the above, for tooling and tests. */
export const OPERATIONS = {
  TrendingMemes: TRENDING_MEMES,
  MemesPage: MEMES_PAGE,
  MemeById: MEME_BY_ID,
  SearchMemes: SEARCH_MEMES,
  Me: ME,
  SignUp: SIGN_UP,
  LogIn: LOG_IN,
  Vote: VOTE,
  Subscribe: SUBSCRIBE,
  GenerateMeme: GENERATE_MEME,
  Generation: GENERATION,
} as const;
