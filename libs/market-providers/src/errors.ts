/**
 * Every way a provider call can fail, as one of four types. A caller never receives part of an
 * answer: either the whole, checked answer or one of these.
 *
 * - ProviderUnavailable: the provider could not be reached or kept failing (5xx, timeouts,
 *   connection errors, its rate limit, maintenance) after the retries: try again later
 * - ProviderDataInvalid: an answer arrived but is malformed or partial (a market missing, a row
 *   of another date, an unreadable number, far fewer rows than the day before): do not use it
 * - ProviderAuthFailed: the key was refused (unregistered, suspended, not approved for this API)
 * - ProviderRequestRefused: the request itself was refused (a bad parameter): a bug, not an outage
 */
export abstract class ProviderError extends Error {
  /** whether sending the same request again later may succeed */
  abstract readonly transient: boolean;

  constructor(
    readonly provider: string,
    message: string,
    /** the provider's own code (HTTP status, OpenDART status, Kiwoom detail code), when known */
    readonly code?: string,
  ) {
    super(`${provider}: ${message}`);
    this.name = new.target.name;
  }
}

export class ProviderUnavailable extends ProviderError {
  readonly transient = true;

  constructor(
    provider: string,
    message: string,
    code?: string,
    /** true when the provider refused for its rate limit (rather than an outage) */
    readonly rateLimited = false,
    /** how many attempts were made before giving up */
    readonly attempts = 1,
  ) {
    super(provider, message, code);
  }
}

export class ProviderDataInvalid extends ProviderError {
  readonly transient = false;
}

export class ProviderAuthFailed extends ProviderError {
  readonly transient = false;
}

export class ProviderRequestRefused extends ProviderError {
  readonly transient = false;
}
