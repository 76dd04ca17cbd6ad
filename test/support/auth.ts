// Helpers for authentication tests over real HTTP: make a user with a password through the API
// (operator token), log in, and carry the session the way a browser or an application would.
import assert from 'node:assert/strict';
import { TOKEN } from './app.ts';

export const operator = { authorization: `Bearer ${TOKEN}` };

export type Http = {
  readonly base: string;
  request(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: unknown },
  ): Promise<{ status: number; body: Record<string, unknown>; headers: Headers; text: string }>;
};

export const http = (port: number, host = '127.0.0.1'): Http => {
  const base = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    base,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...options.headers };
      let body: string | undefined;
      if (options.body !== undefined) {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(options.body);
      }
      const r = await fetch(`${base}${path}`, { method, headers, ...(body ? { body } : {}) });
      const text = await r.text();
      let parsed: Record<string, unknown> = {};
      try {
        parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
      } catch {
        parsed = {};
      }
      return { status: r.status, body: parsed, headers: r.headers, text };
    },
  };
};

/** A request with the operator token that must answer `status`; resolves to the answer's body. */
export const operatorCall =
  (h: Http) =>
  async (method: string, path: string, body?: unknown, status = 200) => {
    const r = await h.request(method, path, { headers: operator, ...(body ? { body } : {}) });
    assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
    return r.body;
  };

/** A person with an identity in the internal directory and a password. */
export const createUser = async (
  h: Http,
  name: string,
  password: string | undefined,
  kind: 'person' | 'service' = 'person',
): Promise<string> => {
  const created = await h.request('POST', '/v1/principals', {
    headers: operator,
    body: { briefName: name, kind, identity: { name } },
  });
  if (created.status !== 201) throw new Error(`create ${name}: ${created.text}`);
  const principalId = String(created.body.principalId);
  if (password !== undefined) {
    const set = await h.request('PUT', `/v1/principals/${principalId}/password`, {
      headers: operator,
      body: { password },
    });
    if (set.status !== 200) throw new Error(`password ${name}: ${set.text}`);
  }
  return principalId;
};

/** Cookies a response set, as `name=value` pairs for a Cookie header. */
export const cookiesOf = (headers: Headers): Record<string, string> => {
  const out: Record<string, string> = {};
  for (const line of headers.getSetCookie()) {
    const [pair] = line.split(';');
    const eq = pair!.indexOf('=');
    out[pair!.slice(0, eq)] = pair!.slice(eq + 1);
  }
  return out;
};

/** Headers of a browser holding a session cookie and its CSRF token. */
export const browser = (cookies: Record<string, string>): Record<string, string> => {
  const session = cookies['__Host-authlog-session'] ?? '';
  const csrf = cookies['__Host-authlog-csrf'] ?? '';
  return { cookie: `__Host-authlog-session=${session}`, 'x-csrf-token': csrf };
};

export const bearer = (token: string): Record<string, string> => ({
  authorization: `Bearer ${token}`,
});

export const basic = (identity: string, password: string): Record<string, string> => ({
  authorization: `Basic ${Buffer.from(`${identity}:${password}`).toString('base64')}`,
});
