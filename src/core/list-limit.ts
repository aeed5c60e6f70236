/**
 * The most rows one listing returns: a `?limit=` over HTTP and a `--limit` in the CLI are
 * bounded alike.
 */
export const MAX_LIST_LIMIT = 1_000;
