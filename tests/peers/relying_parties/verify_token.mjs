// Verifies a Bearer token exactly as LibreChat's openIdJwtStrategy does: passport-jwt reading
// the Authorization header, jwks-rsa's passportJwtSecret on the provider's JWKS, audience =
// the client id. Exits 0 printing the payload when accepted, 1 when refused.
//
// Input: one JSON argument {jwksUri, audience, token}.
import jwksRsa from 'jwks-rsa';
import { Strategy as JwtStrategy, ExtractJwt } from 'passport-jwt';

const input = JSON.parse(process.argv[2]);
const strategy = new JwtStrategy(
  {
    jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
    secretOrKeyProvider: jwksRsa.passportJwtSecret({ cache: true, cacheMaxAge: 60000, jwksUri: input.jwksUri }),
    audience: input.audience,
    algorithms: ['RS256'],
  },
  (payload, done) => done(null, payload),
);
strategy.success = (payload) => {
  console.log(JSON.stringify(payload));
  process.exit(0);
};
strategy.fail = (info) => {
  console.log(JSON.stringify({ refused: String(info?.message ?? info) }));
  process.exit(1);
};
strategy.error = (err) => {
  console.log(JSON.stringify({ error: String(err?.message ?? err) }));
  process.exit(1);
};
strategy.authenticate({ headers: { authorization: `Bearer ${input.token}` } });
