// Entry point: sign-in, the tab's session, navigation between the views and the connection indicator.
import { Api, ApiError } from './api.js';
import { byId, say } from './dom.js';
import { CallLogView } from './calls.js';
import { NotificationsView } from './notifications.js';
import { OutboxView } from './outbox.js';
import { StatsView } from './stats.js';

/** The session token lives for the tab only: closing it signs the dashboard out locally. */
const TOKEN_KEY = 'gateway-dashboard.token';

const VIEWER = `query DashboardViewer { viewer { permissions user { id name } } }`;
const SIGN_IN = `mutation DashboardSignIn($input: SignInInput!) {
  signIn(input: $input) {
    __typename
    ... on SignInPayload { token viewer { permissions user { id name } } }
    ... on RateLimitedError { message retryAfterSeconds }
    ... on Error { message code }
  }
}`;
const SIGN_OUT = `mutation DashboardSignOut { signOut { __typename } }`;

const STATE_TEXT = { connecting: 'connecting…', live: 'live', reconnecting: 'reconnecting…', offline: 'offline' };

const connection = byId('connection');
const api = new Api({
  onState: (state) => {
    connection.dataset.state = state;
    byId('connection-text').textContent = STATE_TEXT[state] ?? state;
    // Back from an outage: what was read over HTTP meanwhile may have failed; read it again.
    if (state === 'live' && session) views.notifications.show();
  },
  onSignedOut: (message) => showSignIn(message),
});

const views = {
  stats: new StatsView(api),
  calls: new CallLogView(api),
  notifications: new NotificationsView(api, { onUnread: showUnread }),
  outbox: new OutboxView(api),
};
const ADMIN_VIEWS = new Set(['stats', 'calls', 'outbox']);
let session = null; // { user, admin }
let current = null;

function showUnread(count) {
  byId('badge-count').textContent = String(count);
  byId('badge').dataset.count = String(count);
  document.title = count > 0 ? `(${count}) Gateway dashboard` : 'Gateway dashboard';
}

function isAdmin(permissions) {
  return permissions.includes('admin') || permissions.includes('root');
}

function showSignIn(message = '') {
  for (const view of Object.values(views)) view.stop();
  session = null;
  current = null;
  sessionStorage.removeItem(TOKEN_KEY);
  api.close();
  byId('nav').hidden = true;
  byId('who').hidden = true;
  for (const name of Object.keys(views)) byId(`${name}-view`).hidden = true;
  byId('signin-view').hidden = false;
  say(byId('signin-message'), message, message ? 'error' : '');
  showUnread(0);
  byId('signin-username').focus();
}

function startSession(token, viewer) {
  sessionStorage.setItem(TOKEN_KEY, token);
  api.setToken(token);
  api.connect();
  session = { user: viewer.user, admin: isAdmin(viewer.permissions) };
  byId('signin-view').hidden = true;
  byId('who-name').textContent = viewer.user.name;
  byId('who').hidden = false;
  const nav = byId('nav');
  for (const item of nav.querySelectorAll('[data-admin]')) item.hidden = !session.admin;
  nav.hidden = false;
  // Every signed-in user has an inbox: its badge and live items run whichever view is shown.
  views.notifications.start({ admin: session.admin });
  route();
}

/** Shows the view the location hash names (or the first one this user may see). */
function route(event) {
  if (!session) return;
  let name = location.hash.slice(1);
  if (!(name in views) || (ADMIN_VIEWS.has(name) && !session.admin)) name = session.admin ? 'stats' : 'notifications';
  if (name === current) return;
  if (current && current !== 'notifications') views[current].stop();
  current = name;
  for (const key of Object.keys(views)) byId(`${key}-view`).hidden = key !== name;
  for (const link of byId('nav').querySelectorAll('a[data-view]')) {
    if (link.dataset.view === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  if (name === 'notifications') views.notifications.show();
  else views[name].start();
  if (event) {
    // Chosen from the navigation: move the focus to the view's heading, as a page load would.
    const heading = byId(`${name}-view`).querySelector('h2');
    heading.tabIndex = -1;
    heading.focus();
  }
}

byId('signin-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const username = byId('signin-username').value.trim();
  const password = byId('signin-password').value;
  const message = byId('signin-message');
  if (!username || !password) {
    say(message, 'Enter your username and password.', 'error');
    return;
  }
  const button = event.submitter ?? byId('signin-form').querySelector('button');
  button.disabled = true;
  say(message, 'Signing in…');
  try {
    const { signIn } = await api.request(SIGN_IN, { input: { username, password } });
    switch (signIn.__typename) {
      case 'SignInPayload':
        byId('signin-password').value = '';
        say(message, '');
        startSession(signIn.token, signIn.viewer);
        break;
      case 'RateLimitedError':
        say(message, `Too many sign-in attempts. Try again in ${waitText(signIn.retryAfterSeconds)}.`, 'error');
        break;
      case 'NotAuthenticatedError':
        say(message, 'Wrong username or password.', 'error');
        break;
      default:
        say(message, signIn.message ?? 'Signing in was refused.', 'error');
    }
  } catch (error) {
    say(message, error instanceof ApiError && error.code === 'NETWORK' ? 'The gateway cannot be reached. Try again.' : error.message, 'error');
  } finally {
    button.disabled = false;
  }
});

function waitText(seconds) {
  if (seconds < 90) return `${Math.max(1, Math.ceil(seconds))} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

byId('sign-out').addEventListener('click', async () => {
  try {
    await api.request(SIGN_OUT);
  } catch {
    // Signed out locally either way; the session expires on its own.
  }
  showSignIn('');
  say(byId('signin-message'), 'Signed out.');
});

window.addEventListener('hashchange', route);

async function resume() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    showSignIn();
    return;
  }
  api.setToken(token);
  try {
    const { viewer } = await api.request(VIEWER);
    if (viewer) startSession(token, viewer);
    else showSignIn('Your session has ended. Please sign in again.');
  } catch (error) {
    showSignIn(error.code === 'NETWORK' ? 'The gateway cannot be reached.' : '');
  }
}

void resume();
