import type { Child } from 'hono/jsx';
import type { Viewer } from './viewer.js';

export const SECTIONS = [
  { id: 'runs', href: '/', label: 'Runs' },
  { id: 'approvals', href: '/queue', label: 'Approvals' },
  { id: 'costs', href: '/costs', label: 'Costs' },
  { id: 'alerts', href: '/alerts', label: 'Alerts' },
] as const;
export type Section = (typeof SECTIONS)[number]['id'];

/**
 * Every page's frame: the stylesheet, the navigation and who is signed in. `live` adds the one
 * script (the live approval queue, and an unfinished run's live view); every other page works
 * with no script at all.
 */
export function Layout({
  title,
  viewer,
  section,
  live = false,
  children,
}: {
  title: string;
  viewer?: Viewer | undefined;
  section?: Section | undefined;
  live?: boolean;
  children?: Child;
}) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${title} · Keel`}</title>
        <link rel="stylesheet" href="/assets/dashboard.css" />
        {live ? <script src="/assets/live.js" defer></script> : null}
      </head>
      <body>
        <header class="top">
          <a class="brand" href="/">
            Keel
          </a>
          {viewer ? (
            <nav>
              {SECTIONS.map((entry) => (
                <a
                  href={entry.href}
                  class={entry.id === section ? 'active' : undefined}
                  aria-current={entry.id === section ? 'page' : undefined}
                >
                  {entry.label}
                </a>
              ))}
            </nav>
          ) : null}
          {viewer ? (
            <form class="who" method="post" action="/logout">
              <span>
                {viewer.approver.name} <span class="role">{viewer.approver.role}</span>
              </span>
              <input type="hidden" name="_csrf" value={viewer.csrf} />
              <button type="submit" class="link">
                Sign out
              </button>
            </form>
          ) : null}
        </header>
        <main>{children}</main>
      </body>
    </html>
  );
}

const STATUS_TONE: Record<string, string> = {
  succeeded: 'good',
  failed: 'bad',
  stopped: 'warn',
  escalated: 'warn',
  cancelled: 'muted',
  running: 'info',
  queued: 'info',
  waiting: 'warn',
  pending: 'warn',
  approved: 'good',
  denied: 'bad',
  expired: 'muted',
};

/** A run's or an approval's state as a coloured word. */
export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge tone-${STATUS_TONE[status] ?? 'muted'}`}>{status}</span>;
}

/** Where a piece of content came from: trusted (system, agent, task) or untrusted. */
export function TrustBadge({ trust, source }: { trust: string; source: string }) {
  return (
    <span
      class={`badge trust tone-${trust === 'untrusted' ? 'bad' : 'good'}`}
      title={`provenance: ${trust}, from ${source}`}
    >
      {trust === 'untrusted' ? `untrusted · ${source}` : `trusted · ${source}`}
    </span>
  );
}

/** A message in place of an empty list. */
export function Empty({ children }: { children?: Child }) {
  return <p class="empty">{children}</p>;
}
