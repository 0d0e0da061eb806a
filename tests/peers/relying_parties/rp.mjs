// A relying party configured the three ways LibreChat's openidStrategy configures openid-client
// 6: a secret with client_secret_basic, a secret with client_secret_post and a nonce
// (OPENID_GENERATE_NONCE), and a public client with PKCE (OPENID_USE_PKCE). It performs the
// browser's part itself (the sign-in form of Bouncer's pages), then the code exchange,
// userinfo, a refresh, and builds the end-session URL; it prints what it saw as JSON.
//
// Input: one JSON argument {issuer, clientId, secret, redirectUri, mode, email, password,
// postLogoutRedirectUri}.
import * as client from 'openid-client';

const input = JSON.parse(process.argv[2]);

const metadata = { client_id: input.clientId, response_types: ['code'], grant_types: ['authorization_code'] };
if (input.mode === 'basic') {
  metadata.client_secret = input.secret;
  metadata.token_endpoint_auth_method = 'client_secret_basic';
} else if (input.mode === 'post') {
  metadata.client_secret = input.secret;
  metadata.token_endpoint_auth_method = 'client_secret_post';
} else {
  metadata.token_endpoint_auth_method = 'none';
}

const config = await client.discovery(new URL(input.issuer), input.clientId, metadata, undefined, {
  execute: [client.allowInsecureRequests],
});

const state = client.randomState();
const params = { redirect_uri: input.redirectUri, scope: 'openid profile email', state };
let nonce;
if (input.mode === 'post') {
  nonce = client.randomNonce();
  params.nonce = nonce;
}
let verifier;
if (input.mode === 'pkce') {
  verifier = client.randomPKCECodeVerifier();
  params.code_challenge = await client.calculatePKCECodeChallenge(verifier);
  params.code_challenge_method = 'S256';
}
const authorizationUrl = client.buildAuthorizationUrl(config, params);

// The browser: a cookie jar, the login form, redirects up to the app's callback.
const jar = new Map();
const remember = (response) => {
  for (const line of response.headers.getSetCookie()) {
    const [pair] = line.split(';');
    const at = pair.indexOf('=');
    jar.set(pair.slice(0, at), pair.slice(at + 1));
  }
};
const cookies = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
const unescape = (s) => s.replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n))).replace(/&amp;/g, '&').replace(/&quot;/g, '"');
const field = (html, name) => {
  const m = html.match(new RegExp(`name="${name}"[^>]*value="([^"]*)"`));
  return m ? unescape(m[1]) : undefined;
};

let url = authorizationUrl.href;
let callback;
for (let i = 0; i < 10 && !callback; i++) {
  const response = await fetch(url, { redirect: 'manual', headers: { cookie: cookies() } });
  remember(response);
  if (response.status === 303 || response.status === 302) {
    const next = new URL(response.headers.get('location'), url).href;
    if (next.startsWith(input.redirectUri)) {
      callback = next;
      break;
    }
    url = next;
    continue;
  }
  const html = await response.text();
  if (!url.includes('/ui/login')) {
    throw new Error(`unexpected page ${url} (${response.status}): ${html.slice(0, 300)}`);
  }
  const form = new URLSearchParams({
    csrf: field(html, 'csrf'),
    rd: field(html, 'rd') ?? '',
    email: input.email,
    password: input.password,
  });
  const posted = await fetch(new URL('/ui/login', url), {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: cookies(), 'content-type': 'application/x-www-form-urlencoded', origin: new URL(url).origin },
    body: form,
  });
  remember(posted);
  if (posted.status !== 303) {
    throw new Error(`signing in failed: ${posted.status} ${(await posted.text()).slice(0, 300)}`);
  }
  url = new URL(posted.headers.get('location'), url).href;
}
if (!callback) throw new Error('never sent back to the redirect URI');

const tokens = await client.authorizationCodeGrant(config, new URL(callback), {
  expectedState: state,
  expectedNonce: nonce,
  pkceCodeVerifier: verifier,
  idTokenExpected: true,
});
const claims = tokens.claims();
const userinfo = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
const endSessionUrl = client.buildEndSessionUrl(config, {
  id_token_hint: tokens.id_token,
  post_logout_redirect_uri: input.postLogoutRedirectUri,
  state: 'signed-out',
});

console.log(JSON.stringify({
  claims,
  token_type: tokens.token_type,
  access_token: tokens.access_token,
  refresh_token: tokens.refresh_token,
  refreshed_refresh_token: refreshed.refresh_token,
  refreshed_has_id_token: Boolean(refreshed.id_token),
  userinfo,
  end_session_url: endSessionUrl.href,
  callback_iss: new URL(callback).searchParams.get('iss'),
}));
