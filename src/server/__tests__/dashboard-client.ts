import type { Hono } from 'hono';

/*
 * A signed-in browser in miniature for in-process dashboard tests: it keeps the session cookie,
 * reads the CSRF token from the pages and posts forms from the app's own origin. Test support.
 */

export const ORIGIN = 'http://localhost';

export interface DashboardClient {
  readonly cookie: string;
  readonly csrf: string;
  get(path: string, headers?: Record<string, string>): Promise<Response>;
  /** Post a form (with the session's CSRF token unless `fields._csrf` is given). */
  post(
    path: string,
    fields?: Record<string, string>,
    headers?: Record<string, string>,
  ): Promise<Response>;
}

export function formHeaders(extra: Record<string, string> = {}): Record<string, string> {
  return { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...extra };
}

/** Sign in through `/login` with `token`; throws unless it worked. */
export async function signInAs(app: Hono, token: string): Promise<DashboardClient> {
  const login = await app.request('/login');
  const loginCookie = /keel_login=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1] ?? '';
  const signedIn = await app.request('/login', {
    method: 'POST',
    headers: formHeaders({ cookie: `keel_login=${loginCookie}` }),
    body: new URLSearchParams({ _csrf: loginCookie, token, next: '/' }),
  });
  const session = /keel_session=([^;]+)/.exec(signedIn.headers.get('set-cookie') ?? '')?.[1];
  if (signedIn.status !== 303 || session === undefined) {
    throw new Error(`sign-in failed with ${signedIn.status}`);
  }
  const cookie = `keel_session=${session}`;
  const home = await (await app.request('/', { headers: { cookie } })).text();
  const csrf = /name="_csrf" value="([^"]+)"/.exec(home)?.[1] ?? '';
  return {
    cookie,
    csrf,
    get: async (path, headers = {}) => app.request(path, { headers: { cookie, ...headers } }),
    post: async (path, fields = {}, headers = {}) =>
      app.request(path, {
        method: 'POST',
        headers: formHeaders({ cookie, ...headers }),
        body: new URLSearchParams({ _csrf: csrf, ...fields }),
      }),
  };
}
