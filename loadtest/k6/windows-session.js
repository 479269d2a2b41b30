// Steady-state Windows management sessions: enrolled devices (from
// `trident loadtest enroll`) open OMA-DM sessions at a constant rate, each
// the message Windows sends at a scheduled check-in (Alert 1201, the
// login status, DevInfo). Identity: each device's enrollment certificate
// in Client-Cert (RFC 9440), as a TLS-terminating proxy sends it; the
// server runs with --windows-device-identity header.
//
// Environment: BASE (http://127.0.0.1:8090), FLEET (enrolled.json; its
// Windows devices are used), RATE (sessions per second), DURATION (30s),
// SUMMARY (a file for the JSON summary).
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';
import { summary } from './summary.js';

const base = __ENV.BASE || 'http://127.0.0.1:8090';
const rate = parseInt(__ENV.RATE || '30');
const duration = __ENV.DURATION || '30s';
const devices = new SharedArray('windows', () => JSON.parse(open(__ENV.FLEET)).filter((d) => d.platform === 'windows'));

export const options = {
  scenarios: {
    sessions: {
      executor: 'constant-arrival-rate', exec: 'session', rate: rate, timeUnit: '1s', duration: duration,
      preAllocatedVUs: Math.max(10, Math.ceil(rate / 10)), maxVUs: Math.max(50, rate * 2),
    },
  },
  thresholds: {
    checks: ['rate==1'],
    http_req_failed: ['rate==0'],
    'http_req_duration{name:session}': ['max>=0'],
  },
  summaryTrendStats: ['avg', 'med', 'p(95)', 'p(99)', 'max', 'count'],
};

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

let sessionID = 0;

// session is one scheduled check-in: a single message, answered with
// the SyncHdr's status 200 and nothing to do.
export function session() {
  const d = devices[Math.floor(Math.random() * devices.length)];
  sessionID++;
  const item = (uri, v) => '<Item><Source><LocURI>' + uri + '</LocURI></Source><Data>' + esc(v) + '</Data></Item>';
  const body = '<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto>' +
    '<SessionID>' + sessionID + '</SessionID><MsgID>1</MsgID>' +
    '<Target><LocURI>' + esc(d.management) + '</LocURI></Target><Source><LocURI>' + esc(d.udid) + '</LocURI></Source>' +
    '</SyncHdr><SyncBody>' +
    '<Alert><CmdID>1</CmdID><Data>1201</Data></Alert>' +
    '<Alert><CmdID>2</CmdID><Item><Meta><Type xmlns="syncml:metinf">com.microsoft/MDM/LoginStatus</Type></Meta><Data>user</Data></Item><Data>1224</Data></Alert>' +
    '<Replace><CmdID>3</CmdID>' + item('./DevInfo/DevId', d.udid) + item('./DevInfo/Man', 'Contoso') +
    item('./DevInfo/Mod', 'Surface Laptop 5') + item('./DevInfo/DmV', '1.3') + item('./DevInfo/Lang', 'en-US') + '</Replace>' +
    '<Final/></SyncBody></SyncML>';
  const res = http.post(base + d.path, body, {
    headers: { 'Host': d.host, 'Content-Type': 'application/vnd.syncml.dm+xml', 'Client-Cert': d.cert },
    tags: { name: 'session' },
  });
  check(res, {
    'session 200': (r) => r.status === 200,
    'SyncHdr 200': (r) => /<CmdRef>0<\/CmdRef>\s*<Cmd>SyncHdr<\/Cmd>\s*<Data>200<\/Data>/.test(r.body),
  });
}

export function handleSummary(data) {
  return summary(data, 'sessions');
}
