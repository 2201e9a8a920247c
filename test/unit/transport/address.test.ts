import { describe, it, expect } from 'vitest'
import { listenAddress, parsePeerAddress, parsePort } from '../../../src/transport/address.ts'
import { InvalidAddressError } from '../../../src/errors.ts'

const PEER = '12D3KooWEAKSkbfqvTq3XgSMZDzgdSFL1b7Ny3C1LoDmrVgmRCzd'

function invalid (fn: () => unknown): InvalidAddressError {
  try { fn() } catch (err) {
    expect(err).toBeInstanceOf(InvalidAddressError)
    expect((err as InvalidAddressError).code).toBe('ERR_INVALID_ADDRESS')
    return err as InvalidAddressError
  }
  throw new Error('expected an InvalidAddressError')
}

describe('parsePeerAddress', () => {
  it.each([
    ['127.0.0.1:4100', '/ip4/127.0.0.1/tcp/4100'],
    ['  10.0.0.2:1  ', '/ip4/10.0.0.2/tcp/1'],
    ['[::1]:4100', '/ip6/::1/tcp/4100'],
    ['[fe80::1]:65535', '/ip6/fe80::1/tcp/65535'],
    ['example.com:80', '/dns/example.com/tcp/80'],
    ['node-1:4100', '/dns/node-1/tcp/4100']
  ])('%j → %s', (input, expected) => {
    expect(parsePeerAddress(input).toString()).toBe(expected)
  })

  it.each([
    '/ip4/1.2.3.4/tcp/4100',
    `/ip4/1.2.3.4/tcp/4100/p2p/${PEER}`,
    '/ip6/::1/tcp/4100',
    `/dns/example.com/tcp/80/p2p/${PEER}`,
    '/dns4/example.com/tcp/80'
  ])('passes the multiaddr %s through unchanged', (input) => {
    const ma = parsePeerAddress(input)
    expect(ma.toString()).toBe(input)
  })

  it('keeps the peer id of a /p2p/ multiaddr', () => {
    const ma = parsePeerAddress(`/ip4/1.2.3.4/tcp/4100/p2p/${PEER}`)
    expect(ma.getComponents().at(-1)?.value).toBe(PEER)
  })

  it.each([
    '', '   ', 'host', 'host:', ':4100', 'host:0', 'host:70000', 'host:abc', 'host:-1',
    '[1.2.3.4]:5', '[example.com]:5', '::1:4100', '/udp/1', '/ip4/1.2.3.4/udp/5',
    '/ip4/1.2.3.4', '/tcp/5', '/ip4/999.1.1.1/tcp/5', 'bad host:5', '-host:5', 'host-:5', 'a..b:5', '999.1.1.1:5', '/ip4/1.2.3.4/tcp/0', '/ip4/1.2.3.4/tcp/5/ws'
  ])('rejects %j', (input) => {
    expect(invalid(() => parsePeerAddress(input)).message).toContain(`"${input}"`)
  })
})

describe('parsePort', () => {
  it.each([
    ['1', false, 1], ['65535', false, 65535], [4100, false, 4100],
    ['0', true, 0], [0, true, 0], ['65535', true, 65535]
  ] as const)('%j (allowZero %s) → %d', (value, allowZero, expected) => {
    expect(parsePort(value, 'port', allowZero)).toBe(expected)
  })

  it.each([
    ['0', false], [0, false], ['65536', true], [70000, true], [-1, true], ['-1', true],
    [1.5, true], ['1.5', true], ['', true], ['abc', true], ['1e3', true], [Number.NaN, true]
  ] as const)('rejects %j (allowZero %s)', (value, allowZero) => {
    expect(invalid(() => parsePort(value, 'port', allowZero)).message).toContain('port must be an integer')
  })
})

describe('listenAddress', () => {
  it.each([
    ['0.0.0.0', 0, '/ip4/0.0.0.0/tcp/0'],
    ['127.0.0.1', 4100, '/ip4/127.0.0.1/tcp/4100'],
    ['::', 4100, '/ip6/::/tcp/4100']
  ])('%s:%d → %s', (host, port, expected) => {
    expect(listenAddress(host, port)).toBe(expected)
  })

  it.each(['localhost', 'example.com', ''])('rejects the host %j', (host) => {
    invalid(() => listenAddress(host, 4100))
  })
})
