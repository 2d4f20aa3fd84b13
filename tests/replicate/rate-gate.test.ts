import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { gatesFor, RateGate, RateLimitedUntil } from '../../shared/replicate/rate-gate.js';

// The gate's pacing as a function of time: Date.now is stubbed, so every slot is exact. A turn
// whose slot lies after its deadline is refused with that slot (RateLimitedUntil.at), which reads
// the schedule without waiting for it.
let now = 1_000_000;
beforeEach(() => {
  now = 1_000_000;
  jest.spyOn(Date, 'now').mockImplementation(() => now);
});
afterEach(() => {
  jest.restoreAllMocks();
});

/** The slot the gate would give the next turn, read by offering it a deadline already passed. */
async function nextSlot(gate: RateGate): Promise<number> {
  const refused = await gate.turn(now - 1).then(
    () => undefined,
    (error: unknown) => error,
  );
  expect(refused).toBeInstanceOf(RateLimitedUntil);
  const { at, message } = refused as RateLimitedUntil;
  expect(message).toBe(`rate limited until ${new Date(at).toISOString()}`);
  return at;
}

describe('RateGate', () => {
  test('a gate that only waits out a Retry-After (no pacing) lets turns go from that very instant', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 1_000);
    now += 1_000;
    await gate.turn(now);
    now += 120_000; // a calm minute and more: the pacing ends
    await gate.turn(now);
    // A late 429 to a request sent before the last slow-down: it blocks, and no pacing starts.
    gate.throttled(now - 200_000, 500);
    expect(gate.idle()).toBe(false); // dropping it would forget the Retry-After
    expect(await nextSlot(gate)).toBe(now + 500);
    now += 500;
    expect(gate.idle()).toBe(true);
    expect(await Promise.all([gate.turn(now), gate.turn(now)])).toEqual([now, now]);
    expect(gate.idle()).toBe(true);
  });

  test('before any 429 every turn goes at once, and the gate is idle', async () => {
    const gate = new RateGate(100);
    expect(gate.idle()).toBe(true);
    expect(await Promise.all([gate.turn(now), gate.turn(now), gate.turn(now)])).toEqual([now, now, now]);
    expect(gate.idle()).toBe(true);
  });

  test('a 429 holds every turn until its Retry-After, then paces at the documented spacing', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 2_000);
    expect(gate.idle()).toBe(false);
    expect(gate.idle(now + 2_000)).toBe(false); // paced still, though no longer blocked
    expect(await nextSlot(gate)).toBe(now + 2_000);
    now += 2_000;
    const first = await gate.turn(now);
    expect(first).toBe(now);
    expect(await nextSlot(gate)).toBe(first + 100);
  });

  test('a further 429 to a paced request doubles the spacing, and each paced turn eases it by 2% down to the documented rate', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 0);
    expect(await gate.turn(now)).toBe(now); // spacing 100
    now += 100;
    gate.throttled(await gate.turn(now), 0); // sent at the pace, throttled again: 200
    now += 200;
    const slots = [await gate.turn(now)];
    for (let i = 0; i < 3; i++) {
      now = await nextSlot(gate);
      slots.push(await gate.turn(now));
    }
    const gaps = slots.slice(1).map((slot, i) => slot - slots[i]!);
    [200, 196, 192.08].forEach((gap, i) => expect(gaps[i]).toBeCloseTo(gap, 6));
    // Easing stops at the documented spacing.
    for (let i = 0; i < 100; i++) {
      now = await nextSlot(gate);
      await gate.turn(now);
    }
    expect((await nextSlot(gate)) - now).toBe(100);
  });

  test('429s to requests sent before the last slow-down are old news: the spacing doubles once per round', async () => {
    const gate = new RateGate(100);
    const sentBefore = now;
    now += 10;
    gate.throttled(sentBefore, 0); // 100
    gate.throttled(sentBefore, 0); // same round: still 100
    expect(await gate.turn(now)).toBe(now);
    expect(await nextSlot(gate)).toBe(now + 100);
    gate.throttled(now, 0); // sent after the slow-down: 200
    now = await nextSlot(gate);
    expect(await gate.turn(now)).toBe(now);
    expect(await nextSlot(gate)).toBe(now + 200);
  });

  test('the spacing never grows past 10 s (6 requests a minute)', async () => {
    const gate = new RateGate(100);
    for (let i = 0; i < 12; i++) {
      gate.throttled(now, 0);
      now += 1;
    }
    const slot = await gate.turn(now);
    expect((await nextSlot(gate)) - slot).toBe(10_000);
  });

  test('a Retry-After never shortens an earlier one', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 5_000);
    gate.throttled(now, 1_000);
    expect(await nextSlot(gate)).toBe(now + 5_000);
  });

  test('a calm minute after the last slot and the last block ends pacing', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 1_000);
    now += 1_000;
    const last = await gate.turn(now);
    now = last + 100 + 60_000; // a minute after the next free slot: still paced
    expect(await gate.turn(now)).toBe(now);
    expect(gate.idle()).toBe(false);
    now += 100 + 60_000 + 1; // more than a minute after it: calm
    expect(await Promise.all([gate.turn(now), gate.turn(now)])).toEqual([now, now]);
    expect(gate.idle()).toBe(true);
  });

  test('the calm minute counts from a block that came after the last slot', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 1_000);
    now += 1_000;
    await gate.turn(now); // the next free slot is 100 ms later
    // A 429 to a request sent before the first one's: it blocks for 5 s more, and does not slow down.
    gate.throttled(now - 2_000, 5_000);
    now += 5_000 + 60_000; // a minute after the block ends, more than a minute after the slot: still paced
    const turn = await gate.turn(now);
    expect(turn).toBe(now);
    expect(await nextSlot(gate)).toBeGreaterThan(now);
    // The turn just taken is the last slot: a minute after it, and after the block, pacing ends.
    now = turn + 100 + 60_001;
    expect(await Promise.all([gate.turn(now), gate.turn(now)])).toEqual([now, now]);
  });

  test('pacing goes on after a Retry-After longer than a minute', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 120_000);
    now += 120_000;
    expect(await gate.turn(now)).toBe(now);
    expect(await nextSlot(gate)).toBe(now + 100);
  });

  test('a turn waits for its slot, and an abort stops the wait', async () => {
    const gate = new RateGate(100);
    gate.throttled(now, 0);
    await gate.turn(now);
    // Date.now stands still; the wait for the slot 100 ms on is on real timers.
    const started = performance.now();
    expect(await gate.turn(now + 1_000)).toBe(now + 100);
    expect(performance.now() - started).toBeGreaterThanOrEqual(90);
    const controller = new AbortController();
    const waiting = gate.turn(now + 1_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('gatesFor', () => {
  test('one pair of gates per token and base URL, kept while they hold state, idle ones dropped past 256', () => {
    const first = gatesFor('http://a', 'token-0');
    expect(gatesFor('http://a', 'token-0')).toBe(first);
    expect(gatesFor('http://b', 'token-0')).not.toBe(first);
    expect(first.create).not.toBe(first.other);
    const throttled = gatesFor('http://a', 'throttled');
    throttled.create.throttled(now, 60_000);
    // 3 tokens' gates so far; 253 more make 256: all kept.
    for (let i = 1; i <= 253; i++) gatesFor('http://a', `token-${i}`);
    expect(gatesFor('http://a', 'token-0')).toBe(first);
    // One more: the idle ones go, the throttled token's stay.
    gatesFor('http://a', 'one-more');
    expect(gatesFor('http://a', 'throttled')).toBe(throttled);
    expect(gatesFor('http://a', 'token-0')).not.toBe(first);
  });
});
