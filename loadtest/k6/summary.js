// The text summary every script prints: the numbers RESULTS.md records,
// per request kind (each script declares a threshold on
// http_req_duration{name:...} for each kind, so that k6 keeps them), and
// the JSON summary in SUMMARY when set.
export function summary(data, what) {
  const ms = (v) => (v === undefined ? '-' : v.toFixed(1) + ' ms');
  const it = data.metrics.iterations ? data.metrics.iterations.values : { count: 0, rate: 0 };
  const failed = data.metrics.http_req_failed ? data.metrics.http_req_failed.values : { passes: 0, fails: 0 };
  let s = what + ' ' + it.count + ' (' + it.rate.toFixed(1) + '/s)\n';
  s += 'requests failed: ' + failed.passes + ' of ' + (failed.passes + failed.fails) + '\n';
  for (const name of Object.keys(data.metrics).sort()) {
    const m = /^http_req_duration\{name:(.+)\}$/.exec(name);
    if (m) {
      const v = data.metrics[name].values;
      s += '  ' + m[1].padEnd(14) + ' n=' + v.count + ' p50=' + ms(v.med) + ' p95=' + ms(v['p(95)']) + ' p99=' + ms(v['p(99)']) + ' max=' + ms(v.max) + '\n';
    }
  }
  const checks = data.metrics.checks ? data.metrics.checks.values : { passes: 0, fails: 0 };
  s += 'checks: ' + checks.passes + ' passed, ' + checks.fails + ' failed\n';
  const out = { stdout: s };
  if (__ENV.SUMMARY) {
    out[__ENV.SUMMARY] = JSON.stringify(data, null, 2);
  }
  return out;
}
