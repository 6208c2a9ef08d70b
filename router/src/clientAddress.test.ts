import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { createClientAddress, hopAddress, isLoopbackAddress } from './clientAddress';

const request = (remoteAddress: string, forwardedFor?: string | string[]) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

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
    expect(addressOf(request('127.0.0.1', '10.0.0.2'))).toBe('10.0.0.2');
    expect(addressOf(request('127.0.0.1'))).toBe('127.0.0.1');
    expect(addressOf(request('127.0.0.1', ' , '))).toBe('127.0.0.1');
    // A peer that is not a trusted proxy is believed about nothing.
    expect(addressOf(request('198.51.100.9', '127.0.0.1'))).toBe('198.51.100.9');
  });

  it('reads hops written with ports and brackets as their address: 203.0.113.9:5555 is not loopback', () => {
    const addressOf = createClientAddress(['loopback']);
    expect(addressOf(request('127.0.0.1', '203.0.113.9:5555'))).toBe('203.0.113.9');
    expect(isLoopbackAddress(addressOf(request('127.0.0.1', '203.0.113.9:5555')))).toBe(false);
    expect(addressOf(request('127.0.0.1', '[2001:db8::5]:443'))).toBe('2001:db8::5');
    expect(addressOf(request('127.0.0.1', '[2001:db8::5]'))).toBe('2001:db8::5');
    // A port does not make one client many.
    expect(addressOf(request('127.0.0.1', '198.51.100.4:1'))).toBe(addressOf(request('127.0.0.1', '198.51.100.4:2')));
    // A trusted hop with a port is still that trusted proxy.
    expect(addressOf(request('127.0.0.1', '198.51.100.4, 127.0.0.1:8080'))).toBe('198.51.100.4');
  });

  it('reads lists across repeated headers, right to left, as proxy-addr does', () => {
    const addressOf = createClientAddress(['loopback', '10.0.0.0/8']);
    expect(addressOf(request('127.0.0.1', ['203.0.113.1, 198.51.100.4', '10.1.2.3']))).toBe('198.51.100.4');
    // A hop that is not an address and not trusted is where trust ends: it is the client's address.
    expect(addressOf(request('127.0.0.1', '203.0.113.7, unknown, 10.0.0.9'))).toBe('unknown');
    expect(isLoopbackAddress('unknown')).toBe(false);
  });

  it('trusts CIDR ranges and proxy-addr names, and mapped IPv4 peers as their IPv4 address', () => {
    const addressOf = createClientAddress(['uniquelocal']);
    expect(addressOf(request('::ffff:10.0.0.5', '203.0.113.7'))).toBe('203.0.113.7');
    // Every hop trusted: the furthest one is all there is to go by.
    expect(addressOf(request('192.168.1.1', '172.16.0.1, 192.168.0.9'))).toBe('172.16.0.1');
    expect(addressOf(request('192.168.1.1', '203.0.113.7, 172.16.0.1'))).toBe('203.0.113.7');
  });

  it('knows loopback in both families and as dual-stack sockets report it', () => {
    for (const address of ['127.0.0.1', '127.255.0.9', '::1', '::ffff:127.0.0.1'])
      expect(isLoopbackAddress(address), address).toBe(true);
    for (const address of ['10.0.0.1', '::2', '::ffff:10.0.0.1', '203.0.113.7', '203.0.113.9:5555', 'unknown'])
      expect(isLoopbackAddress(address), address).toBe(false);
  });

  it('hop addresses', () => {
    expect(hopAddress(' 203.0.113.9:5555 ')).toBe('203.0.113.9');
    expect(hopAddress('[::1]:80')).toBe('::1');
    expect(hopAddress('2001:db8::1')).toBe('2001:db8::1');
    expect(hopAddress('unknown')).toBe('unknown');
  });
});
