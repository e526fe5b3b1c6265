// panva/oidc-provider, OpenID Certified, as an RFC 7523 token endpoint for our tests:
// one confidential client authenticating with private_key_jwt (RFC 7523 §2.2) for the
// client_credentials grant. Usage: node server.mjs PORT CLIENT_ID CLIENT_JWKS_JSON
// Prints "listening <issuer>" once it accepts connections.
import Provider from 'oidc-provider';

const [port, clientId, jwksJson] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: clientId,
      token_endpoint_auth_method: 'private_key_jwt',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      jwks: JSON.parse(jwksJson),
    },
  ],
  features: { clientCredentials: { enabled: true }, devInteractions: { enabled: false } },
  clientAuthMethods: ['private_key_jwt'],
  scopes: ['api:read'],
});
provider.listen(Number(port), '127.0.0.1', () => console.log(`listening ${issuer}`));
