import { describe, expect, test } from '@jest/globals';
import { isPrivateAddress } from '../../shared/image/private-address.js';

describe('isPrivateAddress', () => {
  test.each([
    // IPv4
    ['10.1.2.3', true],
    ['127.0.0.1', true],
    ['169.254.169.254', true],
    ['172.31.255.255', true],
    ['192.168.1.1', true],
    ['100.64.0.1', true],
    ['0.0.0.0', true],
    ['8.8.8.8', false],
    ['172.32.0.1', false],
    ['100.128.0.1', false],
    // IPv6 and IPv4-mapped
    ['::', true],
    ['::1', true],
    ['fd00::1', true],
    ['fe80::1', true],
    ['::ffff:10.0.0.1', true],
    ['::ffff:8.8.8.8', false],
    ['2001:4860:4860::8888', false],
    // IPv4-compatible (::/96): the last 32 bits are the IPv4 address
    ['::10.0.0.1', true],
    ['::127.0.0.1', true],
    ['::169.254.169.254', true],
    ['::192.168.0.1', true],
    ['::a00:1', true],
    ['::8.8.8.8', false],
    ['::100.128.0.1', false],
    // 6to4 (2002::/16): bits 16-48 are the IPv4 address
    ['2002:a00:1::', true],
    ['2002:7f00:1::1', true],
    ['2002:c0a8:101::', true],
    ['2002:a9fe:a9fe::1', true],
    ['2002:ac10::1', true],
    ['2002:808:808::1', false],
    ['2002:ac20::1', false],
    // not an address at all
    ['localhost', true],
  ])('%s → %s', (address, refused) => {
    expect(isPrivateAddress(address)).toBe(refused);
  });
});
