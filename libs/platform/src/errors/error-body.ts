import { STATUS_CODES } from 'node:http';
import { HttpException } from '@nestjs/common';
import { isDependencyUnavailable } from './dependency-unavailable.js';
import { DomainError } from './domain-error.js';
import { isError } from './is-error.js';

/** The one error shape every service answers with. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
  code: string;
}

export interface RenderedError {
  body: ErrorBody;
  headers: Record<string, string>;
  /** true when the failure is ours (5xx not raised on purpose): log it with its stack */
  unexpected: boolean;
}

const CODE_BY_STATUS: Record<number, string> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'TOO_MANY_REQUESTS',
  503: 'SERVICE_UNAVAILABLE',
};

function body(statusCode: number, code: string, message: string): ErrorBody {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message, code };
}

/** body-parser and other connect-style errors carry `status` and `type`. */
interface ParserError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
}

function isParserError(error: unknown): error is ParserError & Error {
  return isError(error) && typeof (error as ParserError).type === 'string' && 'expose' in error;
}

export function renderError(error: unknown): RenderedError {
  if (error instanceof DomainError) {
    return { body: body(error.status, error.code, error.message), headers: error.headers, unexpected: false };
  }
  if (error instanceof HttpException && isParserError(error.cause)) {
    // Nest's Express adapter wraps body-parser and URI errors; render what they really are
    return renderError(error.cause);
  }
  if (error instanceof HttpException && error.cause instanceof URIError) {
    return { body: body(400, 'BAD_REQUEST', 'Malformed URL'), headers: {}, unexpected: false };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    let message = error.message;
    let code = CODE_BY_STATUS[status] ?? (status >= 500 ? 'INTERNAL_ERROR' : 'REQUEST_REJECTED');
    if (typeof response === 'object' && response !== null) {
      const r = response as { message?: unknown; code?: unknown };
      if (Array.isArray(r.message)) {
        message = r.message.map(String).join('; ');
        code = 'VALIDATION_FAILED';
      } else if (typeof r.message === 'string') {
        message = r.message;
      }
      if (typeof r.code === 'string') {
        code = r.code;
      }
    }
    if (status >= 500) {
      return { body: body(status, code, STATUS_CODES[status] ?? 'Error'), headers: {}, unexpected: true };
    }
    return { body: body(status, code, message), headers: {}, unexpected: false };
  }
  if (isParserError(error)) {
    const status = error.status ?? error.statusCode ?? 400;
    switch (error.type) {
      case 'entity.too.large':
        return {
          body: body(413, 'PAYLOAD_TOO_LARGE', 'The request body is too large'),
          headers: {},
          unexpected: false,
        };
      case 'entity.parse.failed':
        return {
          body: body(400, 'INVALID_JSON', 'The request body is not valid JSON'),
          headers: {},
          unexpected: false,
        };
      case 'encoding.unsupported':
      case 'charset.unsupported':
        return {
          body: body(415, 'UNSUPPORTED_MEDIA_TYPE', 'Unsupported body encoding'),
          headers: {},
          unexpected: false,
        };
      default:
        if (status >= 400 && status < 500) {
          return {
            body: body(status, 'BAD_REQUEST', 'The request body could not be read'),
            headers: {},
            unexpected: false,
          };
        }
    }
  }
  if (error instanceof URIError) {
    return { body: body(400, 'BAD_REQUEST', 'Malformed URL'), headers: {}, unexpected: false };
  }
  if (isDependencyUnavailable(error)) {
    return {
      body: body(503, 'DEPENDENCY_UNAVAILABLE', 'A backing service is unavailable; try again shortly'),
      headers: { 'Retry-After': '2' },
      unexpected: false,
    };
  }
  return { body: body(500, 'INTERNAL_ERROR', 'Internal server error'), headers: {}, unexpected: true };
}
