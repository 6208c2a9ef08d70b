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
 *
 * Lists select only public fields, so that their answers stay cacheable by
 * the router and any CDN for everyone on a tier. `viewerVote` is private to
 * one viewer: it comes with a vote's answer and with one meme's details.
 */

export type Tier = 'ANONYMOUS' | 'FREE' | 'PREMIUM' | 'ENTERPRISE';
export type MemeOrigin = 'HUMAN' | 'AI';
export type GenerationStatus = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';

export interface MemeCard {
  id: string;
  title: string;
  topText: string;
  bottomText: string;
  score: number;
  origin: MemeOrigin;
  imageUrl: string;
  author: { id: string; handle: string };
}

export interface MemeDetail extends MemeCard {
  tags: string[];
  createdAt: string;
  viewerVote: number | null;
  template: { id: string; name: string };
}

export interface MemeConnection {
  edges: { cursor: string; node: MemeCard }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

export interface Viewer {
  id: string;
  handle: string;
  displayName: string;
  tier: Tier;
}

export interface AuthPayload {
  token: string;
  expiresAt: string;
  user: { id: string; handle: string; tier: Tier };
}

export interface Generation {
  id: string;
  status: GenerationStatus;
  prompt: string;
  provider: string;
  queuePosition: number | null;
  error: { code: string; message: string } | null;
  meme: MemeCard | null;
  createdAt: string;
  finishedAt: string | null;
}

/** What a meme card shows. */
export const MEME_CARD_FIELDS: TypedDocumentNode<MemeCard> = gql`
  fragment MemeCardFields on Meme {
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
  }
`;

/** The viewer's own vote on a meme, read from the cache when a vote or the meme's details brought it. */
export const MEME_VIEWER_VOTE: TypedDocumentNode<{ id: string; viewerVote: number | null }> = gql`
  fragment MemeViewerVote on Meme {
    id
    viewerVote
  }
`;

export const TRENDING_MEMES: TypedDocumentNode<
  { trending: (MemeCard & { template: { id: string; name: string } })[] },
  { first?: number }
> = gql`
  query TrendingMemes($first: Int = 12) {
    trending(first: $first) {
      ...MemeCardFields
      template {
        id
        name
      }
    }
  }
  ${MEME_CARD_FIELDS}
`;

/** The viewer's feed, newest first: with AI memes for Memes AI viewers. */
export const FEED: TypedDocumentNode<{ feed: MemeConnection }, { first?: number; after?: string | null }> = gql`
  query Feed($first: Int = 12, $after: String) {
    feed(first: $first, after: $after) {
      edges {
        cursor
        node {
          ...MemeCardFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
  ${MEME_CARD_FIELDS}
`;

/** Every meme with one tag, newest first. */
export const MEMES_PAGE: TypedDocumentNode<
  { memes: MemeConnection },
  { first?: number; after?: string | null; tag?: string | null }
> = gql`
  query MemesPage($first: Int = 12, $after: String, $tag: String) {
    memes(first: $first, after: $after, tag: $tag) {
      edges {
        cursor
        node {
          ...MemeCardFields
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
  ${MEME_CARD_FIELDS}
`;

export const MEME_BY_ID: TypedDocumentNode<{ meme: MemeDetail | null }, { id: string }> = gql`
  query MemeById($id: ID!) {
    meme(id: $id) {
      ...MemeCardFields
      tags
      createdAt
      viewerVote
      template {
        id
        name
      }
    }
  }
  ${MEME_CARD_FIELDS}
`;

export const SEARCH_MEMES: TypedDocumentNode<{ search: MemeCard[] }, { text: string; first?: number }> = gql`
  query SearchMemes($text: String!, $first: Int = 24) {
    search(text: $text, first: $first) {
      ...MemeCardFields
    }
  }
  ${MEME_CARD_FIELDS}
`;

export const ME: TypedDocumentNode<{ me: Viewer | null }, Record<string, never>> = gql`
  query Me {
    me {
      id
      handle
      displayName
      tier
    }
  }
`;

export const SIGN_UP: TypedDocumentNode<
  { signUp: AuthPayload },
  { handle: string; password: string; displayName?: string }
> = gql`
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

/** Ends this session at the router, so the token stops working everywhere, not only in this browser. */
export const LOG_OUT: TypedDocumentNode<{ logOut: boolean }, Record<string, never>> = gql`
  mutation LogOut {
    logOut
  }
`;

export const VOTE: TypedDocumentNode<
  { vote: { id: string; score: number; viewerVote: number | null } },
  { memeId: string; value: number }
> = gql`
  mutation Vote($memeId: ID!, $value: Int!) {
    vote(memeId: $memeId, value: $value) {
      id
      score
      viewerVote
    }
  }
`;

export const SUBSCRIBE: TypedDocumentNode<
  { subscribe: { id: string; plan: Tier; status: 'OPEN' | 'COMPLETED'; url: string | null; startedAt: string } },
  { plan: Exclude<Tier, 'ANONYMOUS'> }
> = gql`
  mutation Subscribe($plan: Tier!) {
    subscribe(plan: $plan) {
      id
      plan
      status
      url
      startedAt
    }
  }
`;

export const GENERATE_MEME: TypedDocumentNode<
  { generateMeme: Pick<Generation, 'id' | 'status' | 'prompt' | 'queuePosition'> },
  { prompt: string }
> = gql`
  mutation GenerateMeme($prompt: String!) {
    generateMeme(input: { prompt: $prompt }) {
      id
      status
      prompt
      queuePosition
    }
  }
`;

/** What the gallery shows of a generation: its state, its place in the queue, its error or its meme. */
const GENERATION_FIELDS: TypedDocumentNode<Generation> = gql`
  fragment GenerationFields on Generation {
    id
    status
    prompt
    provider
    queuePosition
    error {
      code
      message
    }
    meme {
      ...MemeCardFields
    }
    createdAt
    finishedAt
  }
  ${MEME_CARD_FIELDS}
`;

/** A generation's progress; with `waitSeconds` the router answers once it finishes, or after that long. */
export const GENERATION: TypedDocumentNode<{ generation: Generation | null }, { id: string; waitSeconds?: number }> =
  gql`
    query Generation($id: ID!, $waitSeconds: Int = 0) {
      generation(id: $id, waitSeconds: $waitSeconds) {
        ...GenerationFields
      }
    }
    ${GENERATION_FIELDS}
  `;

/**
 * A generation's changes, live: its state now, then each change (its place
 * in the queue, running, the finished meme) as it happens. Served by the
 * router over Server-Sent Events; it ends when the generation finishes.
 */
export const GENERATION_UPDATED: TypedDocumentNode<{ generationUpdated: Generation }, { id: string }> = gql`
  subscription GenerationUpdated($id: ID!) {
    generationUpdated(id: $id) {
      ...GenerationFields
    }
  }
  ${GENERATION_FIELDS}
`;

/** Every operation above, for tooling and tests. */
export const OPERATIONS = {
  TrendingMemes: TRENDING_MEMES,
  Feed: FEED,
  MemesPage: MEMES_PAGE,
  MemeById: MEME_BY_ID,
  SearchMemes: SEARCH_MEMES,
  Me: ME,
  SignUp: SIGN_UP,
  LogIn: LOG_IN,
  LogOut: LOG_OUT,
  Vote: VOTE,
  Subscribe: SUBSCRIBE,
  GenerateMeme: GENERATE_MEME,
  Generation: GENERATION,
  GenerationUpdated: GENERATION_UPDATED,
} as const;
