/** What a provider is given: the prompt and the catalog's own material for the template. */
export interface GenerationRequest {
  prompt: string;
  template: { id: string; name: string };
  /** Captions of the template's best human memes, for tone and reference. */
  captions: { topText: string; bottomText: string }[];
}

export interface GeneratedMeme {
  title: string;
  topText: string;
  bottomText: string;
  tags: string[];
}

/**
 * A source of AI memes. The built-in `local` provider is one; HTTP adapters
 * for hosted models implement the same interface.
 */
export interface MemeProvider {
  readonly name: string;
  generate(request: GenerationRequest, signal?: AbortSignal): Promise<GeneratedMeme>;
}
