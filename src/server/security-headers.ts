import type { Context, MiddlewareHandler } from 'hono';
import { NONCE, secureHeaders } from 'hono/secure-headers';

/** Requests already given the headers, whichever app (or instance) of the middleware did it. */
const applied = new WeakSet<Context>();

/**
 * The headers every response carries: a Content-Security-Policy that runs only this server's
 * scripts and styles (inline ones only with the response's nonce), no framing, no MIME sniffing, no
 * referrer, no caching. Applied once per request however many apps mount it.
 *
 * ```ts
 * app.use('*', securityHeaders());
 * const nonce = c.get('secureHeadersNonce'); // for the one page with an inline script
 * ```
 */
export function securityHeaders(): MiddlewareHandler {
  const headers = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: ["'self'", NONCE],
      styleSrc: ["'self'", NONCE],
      imgSrc: ["'self'"],
      connectSrc: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
    },
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    xContentTypeOptions: 'nosniff',
  });
  return async function keelSecurityHeaders(c, next) {
    if (applied.has(c)) {
      await next();
      return;
    }
    applied.add(c);
    await headers(c, next);
    c.header('Cache-Control', 'no-store');
  };
}
