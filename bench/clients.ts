/** The clients bench/run.ts compares: our block, the official client (its sync-wait default, and polling), and one raw fetch. */
export const CLIENTS = ['flux-blocks', 'replicate (block)', 'replicate (poll)', 'raw fetch'] as const;
export type Client = (typeof CLIENTS)[number];
