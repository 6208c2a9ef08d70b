import { describe, expect, it } from 'vitest';
import { purgeRequestMessage, readPurgeRequest } from './purgeRequest';

describe('purge requests', () => {
  it('are a list of tags that earlier routers read as is, with a request id first', () => {
    const message = purgeRequestMessage(['Meme:list', 'User:7']);
    const list = JSON.parse(message) as string[];
    expect(list.slice(1)).toEqual(['Meme:list', 'User:7']);
    const read = readPurgeRequest(message)!;
    expect(read.tags).toEqual(['Meme:list', 'User:7']);
    expect(read.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(readPurgeRequest(purgeRequestMessage(['Meme:1']))!.id).not.toBe(read.id);
  });

  it('from an earlier worker carry no id; anything else is not a request', () => {
    expect(readPurgeRequest('["Meme:list"]')).toEqual({ id: null, tags: ['Meme:list'] });
    expect(readPurgeRequest('{"id":"x","tags":["Meme:list"]}')).toBeNull();
    expect(readPurgeRequest('[1,2]')).toBeNull();
    expect(readPurgeRequest('not json')).toBeNull();
  });
});
