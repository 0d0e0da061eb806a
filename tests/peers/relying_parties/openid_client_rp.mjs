// A relying party of Bouncer's OpenID provider written with openid-client 6, configured as
// LibreChat configures it (api/strategies/openidStrategy.js): discovery, an authorization URL,
// the code grant, userinfo, a refresh grant and the end-session URL. The browser's part (the
// sign-in page, the consent page, the redirects) is done here with fetch and a small cookie
// jar; the redirect URI itself is never fetched, only its URL is captured.
//
// Input: one JSON argument
//   { issuer, client_id, client_secret?, redirect_uri, post_logout_redirect_uri, scope,
//     mode: "basic" | "post-nonce" | "public-pkce", email, password }
// Output, one JSON line each:
//   1. {"step":"refreshed", ...} after the refresh grant; then the script waits for a line on
//      stdin (the test moves the provider's clock past the reuse grace),
//   2. {"step":"done", old_refresh_refused, old_refresh_error, logout, account_after_logout}
//      after presenting the rotated refresh token again, then following the end-session URL
//      in the same browser and looking at the account page.
// Any failure: {"step":"error", "error": ...} and exit code 1.

import * as client from 'openid-client';
import { createInterface } from 'node:readline';

const input = JSON.parse(process.argv[2]);

function out(value) {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

function fail(error) {
  out({
    step: 'error',
    error: String(error && error.stack ? error.stack : error),
    code: error && error.code,
    body: error && error.error,
    cause: error && error.cause ? String(error.cause) : undefined,
  });
  process.exit(1);
}

process.on('unhandledRejection', fail);

// ---- the browser: fetch, no automatic redirects, a cookie jar for one origin ----

const jar = new Map();

function storeCookies(response) {
  for (const line of response.headers.getSetCookie()) {
    const [pair, ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((a) => /^\s*max-age\s*=\s*0\s*$/i.test(a));
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
}

function cookieHeader() {
  return [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
}

async function browse(url, form) {
  const headers = { 'user-agent': 'Mozilla/5.0 (bouncer relying-party test)' };
  if (jar.size) headers.cookie = cookieHeader();
  let body;
  if (form) {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    headers.origin = new URL(url).origin;
    body = new URLSearchParams(form).toString();
  }
  const response = await fetch(url, {
    method: form ? 'POST' : 'GET',
    headers,
    body,
    redirect: 'manual',
  });
  storeCookies(response);
  return response;
}

function decodeEntities(s) {
  return s
    .replace(/&#x([0-9a-f]+);/gi, (_, h) => String.fromCodePoint(parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(parseInt(d, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

function attribute(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}="([^"]*)"`, 'i'));
  return m ? decodeEntities(m[1]) : undefined;
}

// The form with this id: its action and its hidden fields.
function readForm(html, id) {
  const start = html.indexOf(`id="${id}"`);
  if (start < 0) return undefined;
  const open = html.lastIndexOf('<form', start);
  const end = html.indexOf('</form>', start);
  const formTag = html.slice(open, html.indexOf('>', open) + 1);
  const fields = [];
  for (const m of html.slice(open, end).matchAll(/<input\b[^>]*>/gi)) {
    if ((attribute(m[0], 'type') || '').toLowerCase() === 'hidden') {
      fields.push([attribute(m[0], 'name'), attribute(m[0], 'value') ?? '']);
    }
  }
  return { action: attribute(formTag, 'action'), fields };
}

// Walks from the authorization URL to the redirect URI: signs in on the login page and allows
// on the consent page when they are shown. Returns the redirect URI's full URL and the pages
// seen on the way.
async function signInThroughBrowser(authorizationUrl) {
  let url = new URL(authorizationUrl);
  let form;
  const pages = [];
  for (let hop = 0; hop < 16; hop += 1) {
    if (url.href.startsWith(input.redirect_uri)) return { callback: url, pages };
    const response = await browse(url.href, form);
    form = undefined;
    if (response.status >= 300 && response.status < 400) {
      url = new URL(response.headers.get('location'), url);
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) {
      throw new Error(`${url.pathname} answered ${response.status}: ${html.slice(0, 500)}`);
    }
    const login = readForm(html, 'login-form');
    const consent = readForm(html, 'consent-form');
    if (login && !pages.includes('login')) {
      pages.push('login');
      form = [...login.fields, ['email', input.email], ['password', input.password]];
      url = new URL(login.action, url);
    } else if (consent && !pages.includes('consent')) {
      pages.push('consent');
      form = [...consent.fields, ['decision', 'allow']];
      url = new URL(consent.action, url);
    } else {
      throw new Error(`unexpected page at ${url.href}: ${html.slice(0, 800)}`);
    }
  }
  throw new Error('the provider never sent the browser to the redirect URI');
}

// ---- the relying party ----

const execute = [client.allowInsecureRequests];
let config;
if (input.mode === 'basic') {
  config = await client.discovery(
    new URL(input.issuer),
    input.client_id,
    { client_secret: input.client_secret },
    client.ClientSecretBasic(input.client_secret),
    { execute },
  );
} else if (input.mode === 'post-nonce') {
  config = await client.discovery(
    new URL(input.issuer),
    input.client_id,
    { client_secret: input.client_secret },
    client.ClientSecretPost(input.client_secret),
    { execute },
  );
} else if (input.mode === 'public-pkce') {
  config = await client.discovery(new URL(input.issuer), input.client_id, {}, client.None(), {
    execute,
  });
} else {
  fail(`unknown mode ${input.mode}`);
}

const metadata = config.serverMetadata();
const state = client.randomState();
const params = {
  redirect_uri: input.redirect_uri,
  scope: input.scope,
  state,
};
let nonce;
if (input.mode === 'post-nonce') {
  nonce = client.randomNonce();
  params.nonce = nonce;
}
let codeVerifier;
if (input.mode === 'public-pkce') {
  codeVerifier = client.randomPKCECodeVerifier();
  params.code_challenge = await client.calculatePKCECodeChallenge(codeVerifier);
  params.code_challenge_method = 'S256';
}
const authorizationUrl = client.buildAuthorizationUrl(config, params);

const { callback, pages } = await signInThroughBrowser(authorizationUrl.href);

const tokens = await client.authorizationCodeGrant(config, callback, {
  pkceCodeVerifier: codeVerifier,
  expectedState: state,
  expectedNonce: nonce,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);

const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const refreshedClaims = refreshed.claims();

const endSessionUrl = client.buildEndSessionUrl(config, {
  id_token_hint: refreshed.id_token ?? tokens.id_token,
  post_logout_redirect_uri: input.post_logout_redirect_uri,
});

out({
  step: 'refreshed',
  issuer: metadata.issuer,
  endpoints: {
    authorization: metadata.authorization_endpoint,
    token: metadata.token_endpoint,
    userinfo: metadata.userinfo_endpoint,
    jwks: metadata.jwks_uri,
    end_session: metadata.end_session_endpoint,
  },
  authorization_url: authorizationUrl.href,
  callback: callback.href,
  pages,
  nonce: nonce ?? null,
  token_type: tokens.token_type,
  scope: tokens.scope ?? null,
  id_token: tokens.id_token,
  access_token: tokens.access_token,
  refresh_token: tokens.refresh_token,
  claims,
  userinfo,
  refreshed: {
    access_token: refreshed.access_token,
    refresh_token: refreshed.refresh_token ?? null,
    id_token: refreshed.id_token ?? null,
    claims: refreshedClaims ?? null,
  },
  end_session_url: endSessionUrl.href,
});

// Wait for the test to move the provider's clock, then present the rotated token again.
const lines = createInterface({ input: process.stdin });
await new Promise((resolve) => lines.once('line', resolve));
lines.close();
let oldRefreshRefused = false;
let oldRefreshError = null;
try {
  await client.refreshTokenGrant(config, tokens.refresh_token);
} catch (e) {
  oldRefreshRefused = true;
  oldRefreshError = e.error ?? e.code ?? String(e);
}

// RP-initiated logout in the same browser: where the provider sends it, and whether the
// browser is still signed in on the provider's pages afterwards.
const logout = await browse(endSessionUrl.href);
const account = await browse(new URL('/ui/account', input.issuer).href);
out({
  step: 'done',
  old_refresh_refused: oldRefreshRefused,
  old_refresh_error: oldRefreshError,
  logout: { status: logout.status, location: logout.headers.get('location') },
  account_after_logout: { status: account.status, location: account.headers.get('location') },
});
