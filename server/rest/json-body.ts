// Request bodies: JSON only, as Discord (multipart uploads are not supported).
// Fastify's own parser (with its __proto__/constructor poisoning checks) does
// the parsing; the one change is that an empty body with a JSON Content-Type
// counts as no body. Client libraries send exactly that on PUT/DELETE routes
// that take none (reactions, members), and Discord accepts it.
import type { FastifyInstance } from 'fastify';

export function registerJsonBody(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  // Discord has no text/plain bodies; without a parser such a request is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    // parseAs: 'string' hands a string.
    if (body === '') {
      done(null, undefined);
      return;
    }
    parse(request, body as string, done);
  });
}
