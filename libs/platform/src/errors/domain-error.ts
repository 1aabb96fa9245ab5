/**
 * An expected failure with an HTTP status and a stable machine-readable code.
 * The global exception filter turns it into `{ statusCode, error, message, code }`.
 */
export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** extra response headers, e.g. Retry-After */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'DomainError';
  }
}
