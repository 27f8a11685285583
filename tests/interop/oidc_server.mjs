// An independent, OpenID Certified provider (panva's oidc-provider) for the interop tests: the
// client's code flow, ID token checks and back-channel logout meet an implementation that was
// not written alongside them. Test use only, on 127.0.0.1, with its development login pages.
//
//   OIDC_PORT=0 OIDC_CLIENT='{"client_id": ..., "redirect_uris": [...], ...}' node oidc_server.mjs
//
// The port may also be the first argument; 0 takes a free one. The issuer is
// http://127.0.0.1:<port>. Prints "ready <issuer>" once listening, one line per back-channel
// logout it sends ("backchannel.success ..." / "backchannel.error ..."), "barrier <word>" for a
// GET /barrier/<word>, and exits when stdin closes or on SIGTERM, so a test run that dies
// cannot leave it behind.
//
// OIDC_PROFILE=fapi2 makes it a FAPI 2.0 provider instead: pushed authorization requests
// required, DPoP-bound tokens with server nonces, private_key_jwt client authentication (the
// client's public keys come in OIDC_CLIENT's `jwks`), ES256 ID tokens, rotating refresh tokens
// and token revocation. It then also prints what the tests check happened (see `report`).

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const client = JSON.parse(process.env.OIDC_CLIENT || '{}');
const port = Number(process.env.OIDC_PORT ?? process.argv[2] ?? 0);
const profile = process.env.OIDC_PROFILE || '';
if (!['', 'fapi2'].includes(profile)) {
  // A typo must not quietly start the other provider.
  throw new Error(`OIDC_PROFILE must be fapi2 or unset, not ${JSON.stringify(profile)}`);
}

const ALICE = {
  sub: 'alice',
  email: 'alice@example.com',
  email_verified: true,
  name: 'Alice Liddell',
};

function signingKey(type, options, kid) {
  // Fresh keys per run: nothing outlives the test session.
  const { privateKey } = generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), use: 'sig', kid };
}

function configuration() {
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
    jwks: { keys: [signingKey('rsa', { modulusLength: 2048 }, 'interop')] },
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

function fapi2(base) {
  return {
    ...base,
    // The client is what the test registers, with nothing assumed here: its `jwks` (public
    // keys only), private_key_jwt, `dpop_bound_access_tokens` and ES256 ID tokens included.
    clients: [{ response_types: ['code'], application_type: 'web', ...client }],
    // FAPI 2.0 §5.4.1 allows PS256, ES256 and EdDSA: an EC key, and nothing that signs RS256.
    jwks: { keys: [signingKey('ec', { namedCurve: 'P-256' }, 'interop-es256')] },
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256'],
      clientAuthSigningAlgValues: ['PS256', 'ES256', 'EdDSA'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA', 'PS256'],
    },
    clientAuthMethods: ['private_key_jwt'],
    // The code flow only, as FAPI 2.0 §5.3.1.2 asks.
    responseTypes: ['code'],
    features: {
      devInteractions: { enabled: true },
      fapi: { enabled: true, profile: '2.0' },
      // Nonces on every DPoP request, so the client's one retry on use_dpop_nonce is exercised
      // at the token endpoint and at userinfo alike.
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
    },
    // Every refresh spends its refresh token and hands out a new one: a client that reused a
    // spent one would lose the whole grant.
    rotateRefreshToken: true,
    // Refresh tokens without offline_access (the client's default scope does not ask for it).
    issueRefreshToken: async (ctx, c) => c.grantTypeAllowed('refresh_token'),
  };
}

// What the FAPI tests read back, one line per event, values space-free.
function report(provider) {
  const thumbprint = (token) => token?.jkt ?? '-';
  // One line per request that reached an endpoint: whether it carried a DPoP proof, and the
  // scheme of its Authorization header (a DPoP-bound token is presented as "DPoP").
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx.oidc?.route;
    if (!route) return;
    const scheme = (ctx.get('authorization').split(' ')[0] || '-');
    console.log(`http ${route} ${ctx.status} dpop=${ctx.get('dpop') ? 'yes' : 'no'} authorization=${scheme}`);
    if (route === 'revocation' && ctx.status === 200) {
      const { AccessToken, RefreshToken } = ctx.oidc.entities;
      const kind = (AccessToken && 'access_token') || (RefreshToken && 'refresh_token') || 'none';
      console.log(`revocation.success ${ctx.oidc.client?.clientId} revoked=${kind}`);
    }
  });
  provider.on('pushed_authorization_request.success', (ctx, c) => {
    console.log(`pushed_authorization_request.success ${c.clientId} dpop_jkt=${ctx.oidc.params.dpop_jkt ?? '-'}`);
  });
  provider.on('authorization.success', (ctx, out) => {
    console.log(`authorization.success ${ctx.oidc.client?.clientId} iss=${out.iss ?? '-'}`);
  });
  provider.on('grant.success', (ctx) => {
    const { AccessToken, RefreshToken, RotatedRefreshToken } = ctx.oidc.entities;
    console.log([
      'grant.success',
      ctx.oidc.params.grant_type,
      `token_type=${ctx.body?.token_type}`,
      `access_token_jkt=${thumbprint(AccessToken)}`,
      `refresh_token=${RefreshToken ? 'yes' : 'no'}`,
      `rotated=${RotatedRefreshToken ? 'yes' : 'no'}`,
    ].join(' '));
  });
  provider.on('grant.revoked', (ctx, grantId) => {
    console.log(`grant.revoked ${ctx.oidc.route}`);
  });
  for (const event of [
    'authorization.error',
    'pushed_authorization_request.error',
    'grant.error',
    'userinfo.error',
    'revocation.error',
    'jwks.error',
    'discovery.error',
  ]) {
    provider.on(event, (ctx, error) => {
      console.log(`error ${event} ${error.error} ${error.error_description}`);
    });
  }
}

let handler = (req, res) => {
  res.statusCode = 503;
  res.end();
};
const server = createServer((req, res) => {
  // GET /barrier/<word> prints "barrier <word>": once the test has read that line, it has read
  // every line printed before it (the provider's own routes never start with /barrier/).
  const barrier = /^\/barrier\/([A-Za-z0-9]{1,64})$/.exec(req.url);
  if (barrier) {
    console.log(`barrier ${barrier[1]}`);
    res.statusCode = 204;
    res.end();
    return;
  }
  handler(req, res);
});

server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(
    issuer,
    profile === 'fapi2' ? fapi2(configuration()) : configuration(),
  );
  if (profile === 'fapi2') report(provider);
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
