import { Catch, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { Response } from 'express';
import { renderError } from './error-body.js';
import { isError } from './is-error.js';

/** Maps every error to the stable body; stacks and SQL stay in the logs. */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('Errors');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    const rendered = renderError(exception);
    if (rendered.unexpected) {
      this.logger.error(isError(exception) ? (exception.stack ?? exception.message) : String(exception));
    }
    if (response.headersSent) {
      response.end();
      return;
    }
    for (const [name, value] of Object.entries(rendered.headers)) {
      response.setHeader(name, value);
    }
    if (rendered.body.statusCode === 401) {
      response.setHeader('WWW-Authenticate', 'Bearer');
    }
    response.status(rendered.body.statusCode).json(rendered.body);
  }
}
