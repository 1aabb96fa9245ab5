import { request, type HttpResult } from './http.js';

/** One @nestjs/terminus indicator of /health/ready, with the schema check's fields. */
export interface ReadinessIndicator {
  status: string;
  message?: string;
  applied?: number;
  required?: number;
}

/** The body of /health/ready: `details` holds every check, `info` those up. */
export interface ReadinessBody {
  status?: string;
  info?: Record<string, ReadinessIndicator>;
  details: Record<string, ReadinessIndicator>;
}

/** GET <url>/health/ready, whatever it answers. */
export function readinessOf(url: string): Promise<HttpResult<ReadinessBody>> {
  return request<ReadinessBody>('GET', `${url}/health/ready`);
}
