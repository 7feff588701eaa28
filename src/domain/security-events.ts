import type { ClientInfo } from './client-info.ts';

/** Something that happened to an account which its owner should hear about. */
export type SecurityEvent =
  | { readonly kind: 'signIn'; readonly client: ClientInfo }
  | { readonly kind: 'passwordChanged' }
  | { readonly kind: 'emailChanged'; readonly email: string | null }
  | { readonly kind: 'apiTokenCreated'; readonly name: string }
  | { readonly kind: 'sessionsEnded'; readonly count: number }
  | { readonly kind: 'accountEnabled' };

/**
 * Tells a user about a security event on their account (as a notification). Never throws: the
 * change it reports has already happened, and failing to tell must not undo or fail it.
 */
export type SecurityEventSink = (userId: string, event: SecurityEvent) => Promise<void>;

/** A sink that tells nobody (domain parts built without notifications, tests). */
export const IGNORE_SECURITY_EVENTS: SecurityEventSink = async () => {};

/** The notification each event becomes. */
export function securityMessage(event: SecurityEvent): { subject: string; body: string } {
  switch (event.kind) {
    case 'signIn': {
      const agent = event.client.userAgent ? ` (${event.client.userAgent.slice(0, 200)})` : '';
      return { subject: 'New sign-in', body: `Your account was signed in to from ${event.client.address}${agent}. If this was not you, change your password.` };
    }
    case 'passwordChanged':
      return { subject: 'Password changed', body: 'The password of your account was changed. If this was not you, contact an administrator.' };
    case 'emailChanged':
      return event.email
        ? { subject: 'E-mail address changed', body: `The e-mail address of your account is now ${event.email}.` }
        : { subject: 'E-mail address removed', body: 'The e-mail address of your account was removed.' };
    case 'apiTokenCreated':
      return { subject: 'API token created', body: `An API token named "${event.name}" was created for your account.` };
    case 'sessionsEnded':
      return {
        subject: 'Signed out by an administrator',
        body: `An administrator ended ${event.count === 1 ? 'a session' : `${event.count} sessions`} of your account.`,
      };
    case 'accountEnabled':
      return { subject: 'Account enabled again', body: 'An administrator enabled your account again.' };
  }
}
