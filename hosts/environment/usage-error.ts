// One kind of error for a host started wrongly (flags, environment), whichever folder finds it.

/**
 * A mistake in how a host was started: a flag or environment variable it cannot use. The CLI prints
 * the message and exits 2. Its `code` starts with `ERR_PARSE_ARGS`, as Node's parseArgs marks its own.
 */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code = 'ERR_PARSE_ARGS_USAGE';
}

/** Whether `error` is a usage error: a {@link UsageError} or one of Node's parseArgs errors (`ERR_PARSE_ARGS_*`). */
export function isUsageError(error: unknown): boolean {
  return (
    error instanceof UsageError || String((error as { code?: unknown } | undefined)?.code).startsWith('ERR_PARSE_ARGS')
  );
}
