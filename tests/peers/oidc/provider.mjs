// A real OpenID provider for Bouncer's tests: oidc-provider (a certified implementation) with
// its development login form, which accepts any account name. Prints {"issuer": ...} once it
// listens (on 127.0.0.1 and the port given as PORT, or any free one).
//
// Clients:  `bouncer` (confidential, client_secret_basic) and `bouncer-pkce` (public, PKCE).
// Accounts: any name; the email is <name>@example.com (none for `noemail`), roles by name:
//           `alice` chat-user, `admin` chat-user + chat-admin, others none; Keycloak-style
//           copies of the roles sit at realm_access.roles.
import http from 'node:http';
import Provider from 'oidc-provider';

const REDIRECT_URI = process.env.REDIRECT_URI || 'http://bouncer.test/oauth/openid/callback';
const ROLES = { alice: ['chat-user'], admin: ['chat-user', 'chat-admin'] };

const server = http.createServer();
await new Promise((resolve) => server.listen(Number(process.env.PORT || 0), '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'bouncer',
      client_secret: 'bouncer-client-secret',
      redirect_uris: [REDIRECT_URI],
      post_logout_redirect_uris: ['http://chat.test/login'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    {
      client_id: 'bouncer-pkce',
      redirect_uris: [REDIRECT_URI],
      token_endpoint_auth_method: 'none',
    },
  ],
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username', 'picture', 'roles', 'realm_access'],
  },
  // Claims in the ID token too, so role checks can read it.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  ttl: { IdToken: 3600, AccessToken: 3600 },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        const roles = ROLES[id] || [];
        return {
          sub: id,
          ...(id === 'noemail' ? {} : { email: `${id}@example.com`, email_verified: true }),
          given_name: id.charAt(0).toUpperCase() + id.slice(1),
          family_name: 'Example',
          preferred_username: id,
          roles,
          realm_access: { roles },
        };
      },
    };
  },
});
provider.on('server_error', (ctx, err) => console.error('oidc-provider error', err));

server.on('request', provider.callback());
console.log(JSON.stringify({ issuer }));
