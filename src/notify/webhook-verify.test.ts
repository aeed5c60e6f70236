import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, webhookDeliveries, webhookDeliveryId } from './index.js';

const SECRET = 'a-secret-of-32-characters-long!!';
const BODY = '{"type":"keel.notification"}';
const NOW = 1_800_000_000_000;

describe('verifyWebhook', () => {
  it('answers false, not a TypeError, when a header is missing or repeated', () => {
    const timestamp = String(NOW);
    const signature = signWebhook(SECRET, timestamp, BODY);
    const verify = (ts: unknown, sig: unknown) =>
      verifyWebhook(SECRET, ts as string, BODY, sig as string, { now: NOW });
    expect(verify(timestamp, signature)).toBe(true);
    expect(verify(undefined, signature)).toBe(false);
    expect(verify(timestamp, undefined)).toBe(false);
    expect(verify(null, null)).toBe(false);
    expect(verify([timestamp, timestamp], [signature, signature])).toBe(false);
  });

  it('refuses a timestamp from the future beyond a small skew, and one too old', () => {
    const at = (ms: number) => {
      const timestamp = String(ms);
      return verifyWebhook(SECRET, timestamp, BODY, signWebhook(SECRET, timestamp, BODY), {
        now: NOW,
      });
    };
    expect(at(NOW + 10_000)).toBe(true);
    expect(at(NOW + 4 * 60_000)).toBe(false);
    expect(at(NOW - 4 * 60_000)).toBe(true);
    expect(at(NOW - 6 * 60_000)).toBe(false);
  });
});

describe('webhook deliveries', () => {
  it('gives one delivery id per body and lets a receiver drop a replay', () => {
    expect(webhookDeliveryId(BODY)).toBe(webhookDeliveryId(BODY));
    expect(webhookDeliveryId(BODY)).not.toBe(webhookDeliveryId(`${BODY} `));
    let now = NOW;
    const deliveries = webhookDeliveries({ clock: { now: () => now } });
    const id = webhookDeliveryId(BODY);
    expect(deliveries.firstTime(id)).toBe(true);
    expect(deliveries.firstTime(id)).toBe(false);
    now += 11 * 60_000;
    expect(deliveries.firstTime(id)).toBe(true);
  });
});
