// Steady-state Apple check-ins: enrolled devices (from `trident loadtest
// enroll`) check in at a constant rate, Idle then an answer to every
// command they are given, while an integrator queues commands through the
// API. Identity: each device's own certificate in the Client-Cert header
// (RFC 9440), as a TLS-terminating proxy sends it; the server runs with
// --apple-device-identity header.
//
// Environment: BASE (http://127.0.0.1:8090), FLEET (enrolled.json),
// RATE (check-ins per second) or VUS (devices checking in back to back),
// DURATION (30s), TOKEN (an API bearer token;
// empty: no commands; or TOKEN_URL, CLIENT_ID and CLIENT_SECRET: see
// token.js), CMD_RATE (commands per second, default RATE/20),
// SUMMARY (a file for the JSON summary).
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import { token as apiToken } from './token.js';
import { summary } from './summary.js';

const base = __ENV.BASE || 'http://127.0.0.1:8090';
const rate = parseInt(__ENV.RATE || '50');
const duration = __ENV.DURATION || '30s';
const token = __ENV.TOKEN || __ENV.TOKEN_URL || '';
// The platform's hostname (the API's), as Host: localhost:PORT under `trident dev`.
const apiHost = __ENV.API_HOST || 'localhost:8090';
const cmdRate = parseInt(__ENV.CMD_RATE || String(Math.max(1, Math.floor(rate / 20))));
const devices = new SharedArray('devices', () => JSON.parse(open(__ENV.FLEET)).filter((d) => d.platform === 'apple'));

// VUS, when set, runs a closed loop instead: that many devices check in
// back to back, for the most the server does (the side-by-side runs).
const vus = parseInt(__ENV.VUS || '0');
const scenarios = {
  checkins: vus > 0
    ? { executor: 'constant-vus', exec: 'checkin', vus: vus, duration: duration }
    : {
      executor: 'constant-arrival-rate', exec: 'checkin', rate: rate, timeUnit: '1s', duration: duration,
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 10)), maxVUs: Math.max(50, rate * 2),
    },
};
if (token) {
  scenarios.commands = {
    executor: 'constant-arrival-rate', exec: 'queue', rate: cmdRate, timeUnit: '1s', duration: duration,
    preAllocatedVUs: 5, maxVUs: Math.max(20, cmdRate * 2),
  };
}

export const options = {
  scenarios: scenarios,
  discardResponseBodies: false,
  thresholds: {
    // The CI smoke fails on any error; latency is reported, not enforced.
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    // Declared so that the summary has each request kind's latencies.
    'http_req_duration{name:idle}': ['max>=0'],
    'http_req_duration{name:answer}': ['max>=0'],
    'http_req_duration{name:api-find}': ['max>=0'],
    'http_req_duration{name:api-queue}': ['max>=0'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

function plist(fields) {
  let body = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" ' +
    '"http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0"><dict>';
  for (const k of Object.keys(fields)) {
    body += '<key>' + k + '</key><string>' + fields[k] + '</string>';
  }
  return body + '</dict></plist>';
}

const commandUUID = /<key>CommandUUID<\/key>\s*<string>([^<]+)<\/string>/;

function put(d, fields, name) {
  const headers = { 'Content-Type': 'application/x-apple-aspen-mdm', 'Client-Cert': d.cert };
  if (d.host) {
    headers.Host = d.host;
  }
  return http.put(base + '/mdm', plist(fields), { headers: headers, tags: { name: name } });
}

// checkin is one device's connection: Idle, then an answer to each
// command until the server has none left.
export function checkin() {
  const d = devices[Math.floor(Math.random() * devices.length)];
  let res = put(d, { Status: 'Idle', UDID: d.udid }, 'idle');
  check(res, { 'idle 200': (r) => r.status === 200 });
  for (let i = 0; i < 10 && res.status === 200 && res.body && res.body.length > 0; i++) {
    const m = commandUUID.exec(res.body);
    if (!check(m, { 'a command has a CommandUUID': (x) => x !== null })) {
      return;
    }
    res = put(d, { CommandUUID: m[1], Status: 'Acknowledged', UDID: d.udid }, 'answer');
    check(res, { 'answer 200': (r) => r.status === 200 });
  }
}

// queue is an integrator: find a device by its UDID, queue a command.
export function queue() {
  const d = devices[Math.floor(Math.random() * devices.length)];
  const auth = { Authorization: 'Bearer ' + apiToken(), Host: apiHost };
  const found = http.get(base + '/v1/tenants/' + d.tenant + '/devices?q=' + d.udid + '&limit=1',
    { headers: auth, tags: { name: 'api-find' } });
  if (!check(found, { 'find 200': (r) => r.status === 200 && r.json('items.0.id') })) {
    console.warn('find ' + d.udid + ' in ' + d.tenant + ': HTTP ' + found.status + ' ' + String(found.body).slice(0, 300));
    return;
  }
  const res = http.post(base + '/v1/tenants/' + d.tenant + '/devices/' + found.json('items.0.id') + '/commands',
    JSON.stringify({ kind: 'device_information' }),
    { headers: Object.assign({ 'Content-Type': 'application/json' }, auth), tags: { name: 'api-queue' } });
  if (!check(res, { 'queue 201': (r) => r.status === 201 })) {
    console.warn('queue: HTTP ' + res.status + ' ' + String(res.body).slice(0, 300));
  }
}

export function handleSummary(data) {
  return summary(data, 'iterations');
}
