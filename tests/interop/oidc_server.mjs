// An independent, OpenID Certified provider (panva's oidc-provider) for the interop tests: the
// client's code flow, ID token checks and back-channel logout meet an implementation that was
// not written alongside them. Test use only, on 127.0.0.1, with its development login pages.
//
//   OIDC_PORT=0 OIDC_CLIENT='{"client_id": ..., "redirect_uris": [...], ...}' node oidc_server.mjs
//
// The port may also be the first argument; 0 takes a free one. The issuer is
// http://127.0.0.1:<port>. Prints "ready <issuer>" once listening, one line per back-channel
// logout it sends ("backchannel.success ..." / "backchannel.error ..."), and exits when stdin
// closes or on SIGTERM, so a test run that dies cannot leave it behind.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const client = JSON.parse(process.env.OIDC_CLIENT || '{}');
const port = Number(process.env.OIDC_PORT ?? process.argv[2] ?? 0);

const ALICE = {
  sub: 'alice',
  email: 'alice@example.com',
  email_verified: true,
  name: 'Alice Liddell',
};

function configuration() {
  // Fresh keys per run: nothing outlives the test session.
  const signingKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  return {
    clients: [
      {
        token_endpoint_auth_method: 'client_secret_basic',
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        scope: 'openid profile email offline_access',
        // A web client on the code flow: oidc-provider takes its http:// redirect and
        // post-logout URIs on 127.0.0.1 as registered (it refuses plain http only with the
        // implicit flow), and its back-channel URI is any http(s) URL, posted to with Node's
        // own agent. So nothing here loosens a check: the client is registered as a real one.
        // (oidc-provider 9 also refuses to post to loopback addresses unless its `fetch` is
        // replaced; version 8 is pinned here because 9 no longer supports Node 20.)
        application_type: 'web',
        ...client,
      },
    ],
    jwks: { keys: [{ ...signingKey.export({ format: 'jwk' }), use: 'sig', kid: 'interop' }] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    claims: {
      acr: null,
      auth_time: null,
      iss: null,
      sid: null,
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
    },
    async findAccount(ctx, id) {
      if (id !== ALICE.sub) return undefined;
      return { accountId: id, claims: async () => ({ ...ALICE }) };
    },
    features: {
      devInteractions: { enabled: true },
      backchannelLogout: { enabled: true },
      rpInitiatedLogout: { enabled: true },
    },
    // PKCE with S256 only, for every client: oidc-provider 8's default, spelled out so that a
    // version whose default differs cannot quietly let an authorization request without it pass.
    pkce: { methods: ['S256'], required: () => true },
  };
}

let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => handler(req, res));

server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration());
  provider.on('backchannel.success', (ctx, rp, accountId, sid) => {
    console.log(`backchannel.success ${rp.clientId} ${accountId} ${sid}`);
  });
  provider.on('backchannel.error', (ctx, error, rp) => {
    console.log(`backchannel.error ${rp.clientId} ${error.message}`);
  });
  provider.on('server_error', (ctx, error) => {
    console.log(`server_error ${error.stack}`);
  });
  handler = provider.callback();
  console.log(`ready ${issuer}`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}

process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
