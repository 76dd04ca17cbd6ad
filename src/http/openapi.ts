// The OpenAPI document, generated from the routes' own schemas (so it cannot drift from what is
// validated), at /openapi.json, and a reading page at /docs. The page is rendered here, on the
// server, from that document: no script, no external CDN, and a CSP that allows only its own
// inline style by hash.
import { createHash } from 'node:crypto';
import swagger from '@fastify/swagger';
import { Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { API_CSP } from './headers.ts';

export const registerOpenApi = (app: FastifyInstance, options: { version: string }): void => {
  app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'authlog',
        version: options.version,
        description:
          'Event-sourced, multi-master authentication, authorization and accounting store. ' +
          'Every error is RFC 9457 application/problem+json with a stable `code`.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'operator token or access token' },
          session: { type: 'apiKey', in: 'cookie', name: '__Host-authlog-session' },
        },
      },
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transform: ({ schema, url, route }) => {
      const protectedRoute = url.startsWith('/v1') && route.config?.public !== true;
      const querystring = withoutDefaultedRequired(schema.querystring);
      return {
        schema: {
          ...schema,
          ...(querystring ? { querystring } : {}),
          ...(protectedRoute ? { security: [{ bearer: [] }, { session: [] }] } : {}),
        },
        url,
      };
    },
  });
};

/**
 * A query parameter with a default may be left out (validation fills it in), though typebox lists
 * it as required; the document says what a client must send. A copy: validation is untouched.
 */
const withoutDefaultedRequired = (schema: unknown): Record<string, unknown> | undefined => {
  if (typeof schema !== 'object' || schema === null) return undefined;
  const s = schema as Record<string, unknown>;
  const props = (s.properties ?? {}) as Record<string, { default?: unknown }>;
  if (!Array.isArray(s.required)) return undefined;
  const required = s.required.filter((k) => props[String(k)]?.default === undefined);
  return { ...s, required };
};

const escapeHtml = (s: string): string =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
h2{margin-top:2rem;border-bottom:1px solid #ccc}code,pre{font:13px ui-monospace,monospace}
pre{background:#f5f5f5;padding:.5rem;overflow:auto}.op{margin:1rem 0;padding:.5rem 1rem;border-left:4px solid #888}
.m{font-weight:700;text-transform:uppercase;margin-right:.5rem}.get{border-color:#2a7}.post{border-color:#27c}
.patch{border-color:#c80}.delete{border-color:#c33}summary{cursor:pointer}`;
const STYLE_HASH = createHash('sha256').update(STYLE).digest('base64');

/** The policy of the docs page: the API's, plus its one inline style block. */
export const DOCS_CSP = `${API_CSP}; style-src 'sha256-${STYLE_HASH}'`;

// The generated document is read defensively, field by field: it is data, not a typed value.
const field = (o: unknown, key: string): unknown =>
  typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[key] : undefined;
const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const entries = (v: unknown): [string, unknown][] =>
  typeof v === 'object' && v !== null ? Object.entries(v) : [];
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

const json = (v: unknown) => escapeHtml(JSON.stringify(v, null, 2));

export const renderDocs = (doc: unknown): string => {
  const info = field(doc, 'info');
  const title = escapeHtml(text(field(info, 'title')));
  const version = escapeHtml(text(field(info, 'version')));
  const ops: string[] = [];
  for (const [path, methods] of entries(field(doc, 'paths'))) {
    for (const [method, op] of entries(methods)) {
      const params = list(field(op, 'parameters'))
        .map(
          (p) =>
            `<li><code>${escapeHtml(text(field(p, 'name')))}</code> (${escapeHtml(text(field(p, 'in')))}${field(p, 'required') ? ', required' : ''}): <code>${json(field(p, 'schema'))}</code></li>`,
        )
        .join('');
      const body = field(
        field(field(field(op, 'requestBody'), 'content'), 'application/json'),
        'schema',
      );
      const responses = entries(field(op, 'responses'))
        .map(
          ([code, r]) =>
            `<li><code>${escapeHtml(code)}</code> ${escapeHtml(text(field(r, 'description')))}</li>`,
        )
        .join('');
      const summary = text(field(op, 'summary'));
      ops.push(`<section class="op ${escapeHtml(method)}" id="${escapeHtml(`${method}-${path}`)}">
<h3><span class="m">${escapeHtml(method)}</span><code>${escapeHtml(path)}</code></h3>
${summary ? `<p>${escapeHtml(summary)}</p>` : ''}
<p>${list(field(op, 'security')).length > 0 ? 'Needs a bearer token or a session cookie.' : 'Public.'}</p>
${params ? `<h4>Parameters</h4><ul>${params}</ul>` : ''}
${body ? `<details><summary>Request body (application/json)</summary><pre>${json(body)}</pre></details>` : ''}
<details><summary>Responses</summary><ul>${responses}</ul></details>
</section>`);
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title} API ${version}</title><style>${STYLE}</style></head>
<body><h1>${title} API <small>${version}</small></h1>
<p>${escapeHtml(text(field(info, 'description')))}</p>
<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).</p>
${ops.join('\n')}
</body></html>
`;
};

export const docsRoutes = async (app: FastifyInstance): Promise<void> => {
  let page: string | undefined;
  app.get(
    '/openapi.json',
    {
      schema: {
        summary: 'This document',
        tags: ['meta'],
        response: { 200: Type.Object({}, { additionalProperties: true }) },
      },
      config: { cacheControl: 'no-cache' },
    },
    async () => app.swagger(),
  );
  app.get(
    '/docs',
    {
      schema: {
        summary: 'A page to read this document',
        tags: ['meta'],
        produces: ['text/html'],
        response: { 200: { content: { 'text/html': { schema: Type.String() } } } },
      },
      config: { cacheControl: 'no-cache' },
    },
    async (_request, reply) => {
      page ??= renderDocs(app.swagger());
      return reply
        .header('content-security-policy', DOCS_CSP)
        .type('text/html; charset=utf-8')
        .send(page);
    },
  );
};
