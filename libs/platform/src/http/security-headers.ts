import type { NextFunction, Request, Response } from 'express';

/** The API answers JSON only: nothing may run, frame or be sniffed out of it. */
const API_POLICY = "default-src 'none'; frame-ancestors 'none'";
/** The Swagger UI page: its own scripts and styles (it sets some styles inline), nothing from elsewhere. */
const DOCS_POLICY =
  "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'";

/**
 * Headers every answer carries (what helmet would set, for a JSON API): no MIME sniffing, no
 * framing, no referrer, a content security policy (a looser one for the docs UI under
 * `docsPath`), HSTS when the request came over TLS (directly, or per a trusted proxy's
 * X-Forwarded-Proto), and `Cache-Control: no-store` unless a route sets its own (answers carry
 * tokens and personal data; the JWKS, for one, sets a public max-age).
 */
export function securityHeaders(docsPath: string) {
  return (req: Request, res: Response, next: NextFunction): void => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
    res.setHeader('Content-Security-Policy', req.path.startsWith(docsPath) ? DOCS_POLICY : API_POLICY);
    res.setHeader('Cache-Control', 'no-store');
    if (req.secure) {
      res.setHeader('Strict-Transport-Security', 'max-age=31536000; includeSubDomains');
    }
    next();
  };
}
