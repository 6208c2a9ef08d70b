import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClientAddress, isLoopbackAddress } from './clientAddress';

const request = (remoteAddress: string, forwardedFor?: string) =>
  ({ socket: { remoteAddress }, headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor } }) as unknown as IncomingMessage;

describe('client address', () => {
  it('is the peer when no proxy is trusted, whatever X-Forwarded-For claims', () => {
    const addressOf = createClientAddress([]);
    expect(addressOf(request('203.0.113.7', '127.0.0.1'))).toBe('203.0.113.7');
    expect(addressOf(request('::ffff:127.0.0.1', '203.0.113.7'))).toBe('127.0.0.1');
  });

  it('past trusted proxies, is the nearest address they did not write themselves', () => {
    const addressOf = createClientAddress(['10.0.0.2', 'loopback']);
    expect(addressOf(request('127.0.0.1', '203.0.113.7'))).toBe('203.0.113.7');
    // The client wrote "127.0.0.1"; the proxies appended the real address after it.
    expect(addressOf(request('127.0.0.1', '127.0.0.1, 198.51.100.4, 10.0.0.2'))).toBe('198.51.100.4');
    expect(addressOf(request('::1', '2001:db8::5'))).toBe('2001:db8::5');
    // Only trusted hops, or no header: the last proxy is all we know.
    expect(addressOf(request('127.0.0.1', '10.0.0.2'))).toBe('127.0.0.1');
    expect(addressOf(request('127.0.0.1'))).toBe('127.0.0.1');
    // A hop that is not an address means the chain cannot be read: stop at the proxy.
    expect(addressOf(request('127.0.0.1', '203.0.113.7, not-an-ip'))).toBe('127.0.0.1');
    // A peer that is not a trusted proxy is believed about nothing.
    expect(addressOf(request('198.51.100.9', '127.0.0.1'))).toBe('198.51.100.9');
  });

  it('knows loopback in both families and as dual-stack sockets report it', () => {
    for (const address of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1']) expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['10.0.0.1', '::2', '::ffff:10.0.0.1', '203.0.113.7', 'unknown']) expect(isLoopbackAddress(address), address).toBe(false);
  });
});
