import { describe, expect, test } from '@jest/globals';
import { redisConnection } from '../../hosts/workers/connection.js';
import { REPLICATE_BUDGET, tokenKey, windowFor } from '../../hosts/workers/rate-limit.js';
import { startWorker, STALLED_SETTINGS } from '../../hosts/workers/worker.js';
import { createRegistry } from '../../index.js';
import { TOKEN } from '../helpers.js';

describe('redisConnection', () => {
  test.each([
    ['redis://127.0.0.1:6380/2', { host: '127.0.0.1', port: 6380, db: 2 }],
    ['redis://:s3cret@redis.internal', { host: 'redis.internal', port: 6379, db: 0, password: 's3cret' }],
    ['rediss://user:pw@[::1]:7000', { host: '::1', port: 7000, db: 0, username: 'user', password: 'pw', tls: {} }],
    ['unix:///run/redis/redis.sock', { path: '/run/redis/redis.sock', db: 0 }],
    ['unix:///tmp/r.sock?db=3', { path: '/tmp/r.sock', db: 3 }],
    ['/tmp/r.sock', { path: '/tmp/r.sock' }],
  ])('%s', (url, options) => {
    expect(redisConnection(url)).toEqual(options);
  });

  test.each([
    ['localhost:6379', 'unsupported scheme "localhost:"'],
    ['http://x', 'unsupported scheme "http:"'],
    ['redis://:hunter2@h/x', 'the database "x" is not a whole number'],
    ['nothing', 'not a URL'],
    ['unix://', 'needs the socket path'],
  ])('%s is refused, without repeating a password', (url, message) => {
    expect(() => redisConnection(url)).toThrow(message);
    expect(() => redisConnection(url)).not.toThrow(/hunter2/);
  });
});

test('a worker started on an unreachable Redis fails at once, naming the cause', async () => {
  const started = Date.now();
  await expect(
    startWorker({ connection: redisConnection('unix:///nonexistent/redis.sock'), registry: createRegistry() }),
  ).rejects.toThrow('redis: cannot connect (connect ENOENT /nonexistent/redis.sock)');
  expect(Date.now() - started).toBeLessThan(5_000);
});

describe('the shared budget', () => {
  test('fixed windows: never above the rate, any sliding minute within the budget plus one window', () => {
    for (const perMinute of [1, 6, 29, 30, 31, 600, 3000, 6000]) {
      const { points, duration } = windowFor(perMinute);
      expect(Number.isInteger(duration) && duration >= 1).toBe(true);
      expect((points * 60) / duration).toBeLessThanOrEqual(perMinute);
      // Replicate's figures (and any multiple of 30 a minute) are met exactly.
      if (perMinute % 30 === 0 || 60 % perMinute === 0) expect((points * 60) / duration).toBe(perMinute);
      // A sliding minute overlaps at most ceil(60/duration) + 1 windows.
      expect((Math.ceil(60 / duration) + 1) * points).toBeLessThanOrEqual(perMinute + 2 * points);
    }
    // Replicate's 600 creates a minute: 20 per 2 s.
    expect(windowFor(REPLICATE_BUDGET.createsPerMinute)).toEqual({ points: 20, duration: 2 });
    expect(() => windowFor(0)).toThrow('0 per minute');
  });

  test('keys hold a SHA-256 digest of the token, never the token', () => {
    expect(tokenKey(TOKEN)).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenKey(TOKEN)).not.toContain(TOKEN.slice(0, 8));
  });

  test("stalled settings: a killed worker's job resumes within 20 s and survives three stalls", () => {
    expect(STALLED_SETTINGS.lockDuration + STALLED_SETTINGS.stalledInterval).toBeLessThanOrEqual(20_000);
    expect(STALLED_SETTINGS.maxStalledCount).toBeGreaterThanOrEqual(3);
  });
});
