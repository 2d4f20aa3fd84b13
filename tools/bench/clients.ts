/**
 * The clients tools/bench/run.ts compares: our block, the official client (its sync-wait default, and polling),
 * and one raw fetch.
 */
export const CLIENTS = ['flux-blocks', 'replicate (block)', 'replicate (poll)', 'raw fetch'] as const;
/** Our block waiting for webhooks (a receiver in the driver process) instead of polling: scenario 2. */
export const WEBHOOK_CLIENT = 'flux-blocks (webhook)';
export type Client = (typeof CLIENTS)[number] | typeof WEBHOOK_CLIENT;
