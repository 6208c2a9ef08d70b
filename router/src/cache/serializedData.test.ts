import { describe, expect, it } from 'vitest';
import { rememberSerialized, stringifyResult } from './serializedData';

/** What Apollo Server's own prettyJSONStringify writes. */
const apollo = (value: object) => `${JSON.stringify(value)}\n`;

describe('stringifyResult', () => {
  it('writes an answer whose data was stored around the stored bytes, as Apollo would serialize it', () => {
    const data = { trending: [{ id: '1', title: 'a "quoted" title', author: null }] };
    rememberSerialized(data, JSON.stringify(data));
    const extensions = { cost: { requestedQueryCost: 3, actualQueryCost: 2 } };
    for (const value of [
      { errors: undefined, data, extensions },
      { errors: undefined, data, extensions: undefined },
      { errors: [{ message: 'partly', path: ['trending', 0, 'author'] }], data, extensions },
    ])
      expect(stringifyResult(value)).toBe(apollo(value));
  });

  it('serializes any other answer itself', () => {
    const value = { errors: [{ message: 'no' }], data: null, extensions: undefined };
    expect(stringifyResult(value)).toBe(apollo(value));
    expect(stringifyResult({ data: { a: 1 } })).toBe(apollo({ data: { a: 1 } }));
  });
});
