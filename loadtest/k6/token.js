// An API token for an integrator, fetched with the client-credentials
// grant and fetched again before it expires (the dev identity provider's
// tokens last five minutes; a load test phase may last ten).
//
// Environment: TOKEN_URL (the provider's token endpoint), CLIENT_ID,
// CLIENT_SECRET; or TOKEN, a token used as is.
import http from 'k6/http';
import encoding from 'k6/encoding';

let current = __ENV.TOKEN || '';
let fetchedAt = 0;

export function token() {
  if (!__ENV.TOKEN_URL || (current && Date.now() - fetchedAt < 4 * 60 * 1000)) {
    return current;
  }
  const res = http.post(__ENV.TOKEN_URL, { grant_type: 'client_credentials' }, {
    headers: { Authorization: 'Basic ' + encoding.b64encode(__ENV.CLIENT_ID + ':' + __ENV.CLIENT_SECRET) },
    tags: { name: 'token' },
  });
  if (res.status === 200) {
    current = res.json('access_token');
    fetchedAt = Date.now();
  } else {
    console.warn('token: HTTP ' + res.status + ' ' + String(res.body).slice(0, 200));
  }
  return current;
}
