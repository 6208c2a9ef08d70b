import { BadOutputError } from './errors';
import { endpoint, postJson, type HttpProviderOptions } from './http';
import { SYSTEM_PROMPT, parseMemeContent, userMessage } from './output';
import type { GeneratedMeme, GenerationRequest, MemeProvider } from './provider';

export type GeminiProviderOptions = HttpProviderOptions;

interface GenerateContentResponse {
  candidates?: { content?: { parts?: { text?: unknown }[] }; finishReason?: unknown }[];
  promptFeedback?: { blockReason?: unknown };
}

/**
 * A Gemini-style API (`POST {baseUrl}/v1beta/models/{model}:generateContent`)
 * with one API key. The key goes in the `x-goog-api-key` header, never in the
 * URL, so it cannot end up in access logs or error messages that quote URLs.
 */
export class GeminiProvider implements MemeProvider {
  readonly name: string;

  constructor(private readonly options: GeminiProviderOptions) {
    this.name = options.name;
  }

  async generate(request: GenerationRequest, signal?: AbortSignal): Promise<GeneratedMeme> {
    const { options } = this;
    const answer = (await postJson(
      options,
      endpoint(options.baseUrl, `v1beta/models/${encodeURIComponent(options.model)}:generateContent`),
      { 'x-goog-api-key': options.apiKey },
      {
        systemInstruction: { parts: [{ text: SYSTEM_PROMPT }] },
        contents: [{ role: 'user', parts: [{ text: userMessage(request) }] }],
        generationConfig: { responseMimeType: 'application/json', temperature: 0.9, maxOutputTokens: 400 },
      },
      signal,
    )) as GenerateContentResponse;
    const candidate = answer.candidates?.[0];
    const text = (candidate?.content?.parts ?? [])
      .map((part) => (typeof part.text === 'string' ? part.text : ''))
      .join('');
    if (text.length === 0) {
      const reason = answer.promptFeedback?.blockReason ?? candidate?.finishReason;
      throw new BadOutputError(
        `${options.name} gave no text${typeof reason === 'string' ? ` (${reason})` : ''}`,
        options.name,
      );
    }
    return parseMemeContent(text, options.name, [options.apiKey]);
  }
}
