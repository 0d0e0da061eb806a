// Verifies a provider access token as LibreChat's openIdJwtStrategy does
// (api/strategies/openIdJwtStrategy.js): passport-jwt, the token from the Authorization header,
// the key from the provider's JWKS through jwks-rsa, RS256 only, the client id as audience.
//
// Input: one JSON argument { jwks_uri, audience, token }
// Output: exit 0 and {"accepted":true,"payload":...} when the strategy accepts the token;
// exit 2 and {"accepted":false,"reason":...} when it refuses it; exit 1 on any other error.

import jwksRsa from 'jwks-rsa';
import { ExtractJwt, Strategy as JwtStrategy } from 'passport-jwt';

const input = JSON.parse(process.argv[2]);

const strategy = new JwtStrategy(
  {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    secretOrKeyProvider: jwksRsa.passportJwtSecret({
      jwksUri: input.jwks_uri,
      cache: true,
      rateLimit: true,
    }),
    algorithms: ['RS256'],
    audience: input.audience,
  },
  // LibreChat looks the user up by `sub` here; the test only needs what was verified.
  (payload, done) => done(null, payload),
);

// What passport does with a strategy for one request: success, fail or error.
const outcome = await new Promise((resolve) => {
  const attempt = Object.create(strategy);
  attempt.success = (user) => resolve({ accepted: true, payload: user });
  attempt.fail = (info) =>
    resolve({ accepted: false, reason: String(info && (info.message ?? info)) });
  attempt.error = (error) => resolve({ accepted: false, error: String(error) });
  attempt.authenticate({
    headers: { authorization: `Bearer ${input.token}` },
  });
});

process.stdout.write(`${JSON.stringify(outcome)}\n`);
if (outcome.accepted) process.exit(0);
process.exit(outcome.error ? 1 : 2);
