import { Layout } from './layout.js';

/** A page that says what went wrong, in one line, with the status it is served with. */
export function ErrorPage({
  status,
  code,
  message,
}: {
  status: number;
  code: string;
  message: string;
}) {
  return (
    <Layout title={`${status} ${code}`}>
      <section class="error-page">
        <h1>
          {status} <code>{code}</code>
        </h1>
        <p>{message}</p>
        <p>
          <a href="/">Back to the runs</a>
        </p>
      </section>
    </Layout>
  );
}
