// Integrators on the REST API: a mix of reads and writes across the load
// test's tenants, at a constant rate. Reads: a page of devices (40%), one
// device (30%), a device's commands (10%), the tenant's latest events
// (10%); writes: a command queued for a device (10%).
//
// Environment: BASE (http://127.0.0.1:8090), API_HOST (the platform's
// Host, localhost:8090), TOKEN_URL, CLIENT_ID and CLIENT_SECRET (an MSP
// admin's client, see token.js) or TOKEN,
// FLEET (enrolled.json: its tenants are used), RATE (requests per second),
// DURATION (30s), SUMMARY (a file for the JSON summary).
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import { token } from './token.js';
import { summary } from './summary.js';

const base = __ENV.BASE || 'http://127.0.0.1:8090';
const apiHost = __ENV.API_HOST || 'localhost:8090';
const rate = parseInt(__ENV.RATE || '50');
const duration = __ENV.DURATION || '30s';
const tenants = new SharedArray('tenants', () => [...new Set(JSON.parse(open(__ENV.FLEET)).map((d) => d.tenant))].slice(0, 20));

export const options = {
  scenarios: {
    integrators: {
      executor: 'constant-arrival-rate', exec: 'call', rate: rate, timeUnit: '1s', duration: duration,
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 10)), maxVUs: Math.max(50, rate * 2),
    },
  },
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    'http_req_duration{name:list-devices}': ['max>=0'],
    'http_req_duration{name:get-device}': ['max>=0'],
    'http_req_duration{name:list-commands}': ['max>=0'],
    'http_req_duration{name:list-events}': ['max>=0'],
    'http_req_duration{name:queue-command}': ['max>=0'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

const params = (name) => ({ headers: { Authorization: 'Bearer ' + token(), Host: apiHost, 'Content-Type': 'application/json' }, tags: { name: name } });

// setup lists each tenant's first devices, for the per-device calls.
export function setup() {
  const devices = {};
  for (const t of tenants) {
    const r = http.get(base + '/v1/tenants/' + t + '/devices?limit=100', params('setup'));
    devices[t] = r.status === 200 ? r.json('items').map((d) => d.id) : [];
  }
  return devices;
}

export function call(devices) {
  const t = tenants[Math.floor(Math.random() * tenants.length)];
  const ids = devices[t];
  const id = ids[Math.floor(Math.random() * ids.length)];
  const x = Math.random();
  let res;
  if (x < 0.4) {
    res = http.get(base + '/v1/tenants/' + t + '/devices?limit=50&sort=-last_seen_at', params('list-devices'));
  } else if (x < 0.7) {
    res = http.get(base + '/v1/tenants/' + t + '/devices/' + id, params('get-device'));
  } else if (x < 0.8) {
    res = http.get(base + '/v1/tenants/' + t + '/devices/' + id + '/commands?limit=20', params('list-commands'));
  } else if (x < 0.9) {
    res = http.get(base + '/v1/tenants/' + t + '/events?limit=50', params('list-events'));
  } else {
    res = http.post(base + '/v1/tenants/' + t + '/devices/' + id + '/commands', JSON.stringify({ kind: 'device_information' }), params('queue-command'));
  }
  if (!check(res, { 'API 2xx': (r) => r.status >= 200 && r.status < 300 })) {
    console.warn(res.request.method + ' ' + res.url + ': HTTP ' + res.status + ' ' + String(res.body).slice(0, 200));
  }
}

export function handleSummary(data) {
  return summary(data, 'API calls');
}
