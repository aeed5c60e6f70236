import { KeelError } from '../core/index.js';
import { notificationText, type Notification, type Notifier } from './notifier.js';

/** The SMTP server, sender and recipients per approver group of the email notifier. */
export interface EmailNotifierOptions {
  /** SMTP server. */
  readonly host: string;
  readonly port: number;
  /** TLS from the start (port 465). Otherwise STARTTLS when the server offers it. */
  readonly secure?: boolean;
  readonly auth?: { readonly user: string; readonly pass: string };
  readonly from: string;
  readonly to: string | readonly string[];
  /** Accept self-signed certificates (a local relay). */
  readonly allowSelfSigned?: boolean;
  readonly name?: string;
}

/**
 * Send notifications by SMTP (nodemailer): a plain-text body with the fields, the decide link
 * and the commands, plus a small HTML part.
 *
 * ```ts
 * const notifier = emailNotifier({ host: 'smtp.example', port: 587, from: 'keel@example', to: 'finance@example' });
 * ```
 */
export function emailNotifier(options: EmailNotifierOptions): Notifier {
  if (typeof options.host !== 'string' || options.host === '')
    throw new KeelError('invalid_config', 'emailNotifier: "host" is required');
  if (!Number.isInteger(options.port) || options.port <= 0)
    throw new KeelError('invalid_config', 'emailNotifier: "port" must be a port number');
  let transport:
    | Promise<{ sendMail(message: Record<string, unknown>): Promise<unknown>; close(): void }>
    | undefined;
  async function getTransport() {
    transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        host: options.host,
        port: options.port,
        secure: options.secure ?? false,
        ...(options.auth ? { auth: { user: options.auth.user, pass: options.auth.pass } } : {}),
        ...(options.allowSelfSigned ? { tls: { rejectUnauthorized: false } } : {}),
      }),
    );
    return transport;
  }
  return {
    name: options.name ?? 'email',
    async notify(notification) {
      const mailer = await getTransport();
      try {
        await mailer.sendMail({
          from: options.from,
          to: typeof options.to === 'string' ? options.to : options.to.join(', '),
          subject: notification.title,
          text: notificationText(notification),
          html: emailHtml(notification),
          headers: notification.subject ? { 'X-Keel-Subject': notification.subject } : {},
        });
      } catch (error) {
        throw new KeelError(
          'internal',
          `email to ${String(options.to)} failed: ${error instanceof Error ? error.message : String(error)}`,
          { cause: error },
        );
      }
    },
  };
}

function emailHtml(notification: Notification): string {
  const escape = (text: string) =>
    text
      .replaceAll('&', '&amp;')
      .replaceAll('<', '&lt;')
      .replaceAll('>', '&gt;')
      .replaceAll('"', '&quot;');
  const parts = [`<h2>${escape(notification.title)}</h2>`, `<p>${escape(notification.text)}</p>`];
  if (notification.fields?.length) {
    parts.push(
      `<table>${notification.fields.map((field) => `<tr><th align="left">${escape(field.label)}</th><td><code>${escape(field.value)}</code></td></tr>`).join('')}</table>`,
    );
  }
  for (const link of notification.links ?? [])
    parts.push(`<p><a href="${escape(link.url)}">${escape(link.label)}</a></p>`);
  if (notification.commands?.length)
    parts.push(`<pre>${notification.commands.map(escape).join('\n')}</pre>`);
  return parts.join('\n');
}
