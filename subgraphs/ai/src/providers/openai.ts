import { BadOutputError } from './errors';
import { endpoint, postJson, type HttpProviderOptions } from './http';
import { SYSTEM_PROMPT, parseMemeContent, userMessage } from './output';
import type { GeneratedMeme, GenerationRequest, MemeProvider } from './provider';

export type OpenAiProviderOptions = HttpProviderOptions;

interface ChatCompletion {
  choices?: { message?: { content?: unknown; refusal?: unknown }; finish_reason?: unknown }[];
}

/**
 * An OpenAI-compatible chat completions API (`POST {baseUrl}/v1/chat/completions`)
 * with one API key. Asks for a JSON object and turns it into a meme.
 */
export class OpenAiProvider implements MemeProvider {
  readonly name: string;

  constructor(private readonly options: OpenAiProviderOptions) {
    this.name = options.name;
  }

  async generate(request: GenerationRequest, signal?: AbortSignal): Promise<GeneratedMeme> {
    const { options } = this;
    const answer = (await postJson(
      options,
      endpoint(options.baseUrl, 'v1/chat/completions'),
      { authorization: `Bearer ${options.apiKey}` },
      {
        model: options.model,
        messages: [
          { role: 'system', content: SYSTEM_PROMPT },
          { role: 'user', content: userMessage(request) },
        ],
        response_format: { type: 'json_object' },
        temperature: 0.9,
        max_tokens: 400,
      },
      signal,
    )) as ChatCompletion;
    const choice = answer.choices?.[0];
    const content = choice?.message?.content;
    if (typeof content !== 'string') {
      const why = typeof choice?.message?.refusal === 'string' ? 'refused' : 'gave no message content';
      throw new BadOutputError(`${options.name} ${why}`, options.name);
    }
    return parseMemeContent(content, options.name, [options.apiKey]);
  }
}
