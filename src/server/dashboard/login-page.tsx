import { Layout } from './layout.js';

/**
 * `/login`: the token form. The token is posted once and kept on the server; the browser gets
 * an HttpOnly session cookie.
 */
export function LoginPage({
  csrf,
  next,
  error,
}: {
  csrf: string;
  next: string;
  error?: string | undefined;
}) {
  return (
    <Layout title="Sign in">
      <section class="login">
        <h1>Sign in</h1>
        <p>
          Enter a token made with{' '}
          <code>keel approvers add &lt;name&gt; --group g --role viewer</code> (or{' '}
          <code>approver</code>, <code>admin</code>).
        </p>
        {error ? (
          <p class="notice bad" role="alert">
            {error}
          </p>
        ) : null}
        <form method="post" action="/login">
          <input type="hidden" name="_csrf" value={csrf} />
          <input type="hidden" name="next" value={next} />
          <label>
            Token
            <input
              type="password"
              name="token"
              autocomplete="off"
              required
              autofocus
              spellcheck={false}
            />
          </label>
          <button type="submit">Sign in</button>
        </form>
      </section>
    </Layout>
  );
}
