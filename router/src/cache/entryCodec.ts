import type { Codec } from '../state/taggedCache';

/** The key an entry's data is written under, as it is (see entryCodec). */
const RAW_DATA = '"json":';

/**
 * How a cached entry whose `data` is already JSON (a response's, an
 * entity's) is written in Redis: JSON, its other fields first, then its
 * data under `json` as the JSON it already is, where inside a string (as
 * `data`) every quote of it was escaped on each write and unescaped on each
 * read. The first `"json":` of the text is that key: in the fields before
 * it, only a string could hold those characters, and there the quote is
 * escaped. An entry of the earlier form has none and is read as it was
 * written (each cache keeps entries of that form under other keys, see
 * responseCacheKey and EntityCache).
 */
export function entryCodec<Entry extends { data: string }>(): Codec<Entry> {
  return {
    encode(entry) {
      const { data, ...rest } = entry;
      if (typeof data !== 'string') return JSON.stringify(entry);
      const fields = JSON.stringify(rest);
      return `${fields.length > 2 ? `${fields.slice(0, -1)},` : '{'}${RAW_DATA}${data}}`;
    },
    decode(raw) {
      const at = raw.indexOf(RAW_DATA);
      if (at < 0) return JSON.parse(raw) as Entry;
      const fields = raw.slice(0, at);
      const rest = JSON.parse(fields.endsWith(',') ? `${fields.slice(0, -1)}}` : `${fields}}`) as Omit<Entry, 'data'>;
      return { ...rest, data: raw.slice(at + RAW_DATA.length, -1) } as Entry;
    },
  };
}
