/** How long a scrape waits for a read from a dependency: as long as a readiness check does. */
export const SCRAPE_READ_TIMEOUT_MS = 1000;

export interface ScrapeReadOptions {
  /** how long a scrape waits for the read (default SCRAPE_READ_TIMEOUT_MS) */
  timeoutMs?: number;
  /**
   * What a read that failed or was late means for the metric; without it the metric keeps its
   * last value (and has none before a first answer).
   */
  onFailure?: () => void;
}

/**
 * A prom-client collect() callback that reads a value from a dependency (Redis) when Prometheus
 * scrapes and applies it to the metric. It never throws: a collect() that throws fails the whole
 * scrape, every other metric with it. At most one read is in flight: a connection that queues
 * commands while its server is away would otherwise grow a backlog of one read per scrape. A
 * scrape waits for it at most `timeoutMs`; a late answer is still applied, for the next scrape.
 */
export function readOnScrape<T>(
  read: () => Promise<T>,
  apply: (value: T) => void,
  options: ScrapeReadOptions = {},
): () => Promise<void> {
  const { timeoutMs = SCRAPE_READ_TIMEOUT_MS, onFailure } = options;
  let inFlight: Promise<boolean> | undefined;
  return async () => {
    inFlight ??= Promise.resolve()
      .then(read)
      .then((value) => {
        apply(value);
        return true;
      })
      .catch(() => false)
      .finally(() => {
        inFlight = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    const answered = await Promise.race([inFlight, late]);
    clearTimeout(timer);
    if (!answered) {
      try {
        onFailure?.();
      } catch {
        // same rule as for the read: the scrape goes on
      }
    }
  };
}
