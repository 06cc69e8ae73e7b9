#!/usr/bin/env node
// url_differential.js DRIVER [COUNT] - the fetcher's URL parser against
// Node's URL (the URL Standard as browsers implement it).
//
// A generator with a fixed seed builds COUNT (default 120000) inputs that
// mix what tells parsers apart: backslashes anywhere, tabs and newlines
// inside the host, 0 to 4 slashes, "@" ":" "\" "#" "?" in the authority,
// percent-encoded and full-width host characters, the ideographic dots,
// IPv4 number forms, IPv6, ports, dot segments, and relative references
// against several bases. Every input goes through new URL() here and,
// in one batch over stdin, through DRIVER (tests/differential/url_driver.c).
//
// Fails (exit 1) on any host disagreement, on any serialization
// disagreement for an input both accept, and on any input the driver
// accepts but Node refuses. Inputs Node accepts and the driver refuses
// (libidn2 being stricter than UTS #46) are counted and listed, and are
// allowed only when the driver names domain-to-ASCII.
'use strict';
const { spawnSync } = require('child_process');

const driver = process.argv[2];
const count = Number(process.argv[3] || 120000);
if (!driver) {
  console.error('usage: url_differential.js DRIVER [COUNT]');
  process.exit(64);
}

// mulberry32: small, deterministic.
let seed = 0x5afe0121;
function rnd() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rnd() * a.length)];
const chance = (p) => rnd() < p;
const many = (n, f) => Array.from({ length: n }, f).join('');

const bases = [
  null,
  'http://benign.test/',
  'https://benign.test/a/b/c?q=1#f',
  'http://user:pw@benign.test:8080/dir/file',
  'http://127.0.0.1/x/',
  'https://[::1]:8443/p?x',
];

const schemes = ['http:', 'https:', 'HTTP:', 'hTtPs:', '', '', 'ftp:', 'javascript:', 'ws:', 'h\ttp:'];
const slashes = ['/', '\\'];
const userinfo = [
  'user', 'u:p', 'evil.test', 'evil.test:80', 'evil.test:', 'evil.test\\', 'evil.test\\\\',
  'a@b', ':', '', '%40', 'us er', 'p:a:ss', 'é', '[::1]', 'x\ty', 'evil.test#', 'a?b',
];
const labels = [
  'evil', 'benign', 'test', 'ExAmPle', 'com', 'a', 'xn--nxasmq6b', 'xn--zca', 'münchen',
  'faß', 'ｅｘａｍｐｌｅ', 'ＥＶＩＬ', 'bücher', 'ÉCOLE', 'παράδειγμα', 'пример', 'x-y', 'a_b',
  '%65vil', '%45VIL', '%2e', 'ev%69l', '１２７', '0', '1', '255', '0x7f', '0177', '08', '0x',
  '4294967295', '4294967296', '2130706433', 'localhost', 'LOCALHOST', '',
];
const dots = ['.', '.', '.', '.', '。', '．', '｡', '%2e', '%2E'];
const ipv4s = [
  '127.0.0.1', '0x7f.1', '0177.0.0.1', '2130706433', '127.1', '1.2.3.4.5', '08', '0x',
  '999.1.1.1', '1.2.3.4.', '0x7F000001', '127.0.0.0x1', '1.256', '1.0x10000', '00000000177.1',
  '0.0.0.0', '127.00.0.1', '1..1', '0xffffffff', '1.2.3.08', '１２７.０.０.１', '127。0。0。1',
];
const ipv6s = [
  '[::1]', '[::ffff:127.0.0.1]', '[2001:db8::1]', '[1:2:3:4:5:6:7:8]', '[::1.2.3]',
  '[::ffff:1.2.3.4]', '[0:0::0:1]', '[1::', '[:1]', '[::]', '[1:2:3:4:5:6:7:8:9]',
  '[::127.0.0.1]', '[fe80::1%25eth0]', '[1:0:0:2::3:0]', '[::FFFF:7F00:1]', '[1::2::3]',
  '[1:2:3:4:5:6:1.2.3.4]', '[::1.2.3.04]', '[0:0:0:0:0:0:0:0]', '[abcd]', '[::1 ]',
];
const hostJunk = ['\t', '\n', '\r', '%', '%00', '%20', '<', '|', '^', '_', '*', ' ', '\u00ad', '\u200b', '%zz', '%c3%bc', '%ff', '~', '!'];
const ports = ['80', '443', '8080', '', '0', '65535', '65536', '00080', 'abc', '8\t0', '99999999999', '-1'];
const segments = ['', 'a', '.', '..', '%2e', '%2E%2e', '.%2e', 'p a', 'é', '{x}', '^', '`', '|', 'b\\c', 'evil.test', '@', '%41', '"', '<>', '\u3002'];
const queryBits = ['a=1', "'", ' ', '"', '\\', 'é', '&b', '<', '%', '=', '`', '{}', '?'];
const fragBits = ['f', ' ', '"', '`', '<', '#', 'é', '\\', '%2'];
const relatives = [
  '/\\evil.test/', '/\\/evil.test/', '\\\\evil.test\\', '//evil.test', 'http:/evil.test/',
  'http:evil.test/', 'https:evil.test', '?q', '#f', '../x', 'x/../y', '', '.', './', '/..',
  '\\evil.test', '///evil.test', ' //evil.test', 'http:\\\\evil.test', '\t/\t/evil.test',
  'https://evil.test', 'HTTP://EVIL.TEST', '..\\..\\z', 'a?b#c', '/%2e%2e/x',
];

function host() {
  const r = rnd();
  if (r < 0.2) return pick(ipv4s);
  if (r < 0.3) return pick(ipv6s);
  let h = many(1 + Math.floor(rnd() * 3), (_, i) => (i ? pick(dots) : '') + pick(labels));
  if (chance(0.1)) h += pick(dots);
  if (chance(0.25)) {
    const at = Math.floor(rnd() * (h.length + 1));
    h = h.slice(0, at) + pick(hostJunk) + h.slice(at);
  }
  return h;
}

function absolute() {
  let s = pick(schemes);
  s += many(Math.floor(rnd() * 5), () => pick(slashes));
  if (chance(0.3)) s += pick(userinfo) + (chance(0.8) ? '@' : pick(['\\@', ':@', '@@']));
  s += host();
  if (chance(0.3)) s += ':' + pick(ports);
  if (chance(0.8))
    s += many(Math.floor(rnd() * 4), () => pick(slashes) + pick(segments));
  if (chance(0.25)) s += '?' + many(1 + Math.floor(rnd() * 3), () => pick(queryBits));
  if (chance(0.15)) s += '#' + many(1 + Math.floor(rnd() * 2), () => pick(fragBits));
  return s;
}

function mutate(s) {
  if (chance(0.1)) s = pick([' ', '  ', '\x01', '\t', '\n ']) + s;
  if (chance(0.1)) s += pick([' ', '\x1f', '\t', '\r\n']);
  if (chance(0.15)) {
    const at = Math.floor(rnd() * (s.length + 1));
    s = s.slice(0, at) + pick(['\t', '\n', '\\', '/', '@', ':', '#', '?', '%']) + s.slice(at);
  }
  return s;
}

function generate() {
  const out = [];
  // The reported examples first, so a regression names them.
  const fixed = [
    ['http://evil.test\\@benign.test/', null], ['http://evil.test:80\\@benign.test/', null],
    ['http://evil.test:\\@benign.test/', null], ['http://evil.test\\\\@benign.test/', null],
    ['/\\evil.test/', 'http://benign.test/'], ['/\\/evil.test/', 'http://benign.test/'],
    ['\\\\evil.test\\', 'http://benign.test/'], ['http:/evil.test/', 'http://benign.test/'],
    ['http:evil.test/', null], ['http://ev\til.test/', null], ['   http://evil.test/', null],
  ];
  for (const [input, base] of fixed) out.push({ input, base });
  while (out.length < count) {
    const base = chance(0.35) ? pick(bases.slice(1)) : null;
    let input;
    if (base && chance(0.5)) input = chance(0.5) ? pick(relatives) : pick(relatives) + pick(segments);
    else input = absolute();
    out.push({ input: mutate(input), base });
  }
  return out;
}

function node(c) {
  let u;
  try {
    u = c.base ? new URL(c.input, c.base) : new URL(c.input);
  } catch (e) {
    return { kind: 'FAIL' };
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return { kind: 'UNSUPPORTED' };
  return { kind: 'OK', href: u.href, host: u.hostname };
}

const hex = (s) => Buffer.from(s, 'utf8').toString('hex');
const cases = generate();
const t0 = Date.now();
const stdin = cases.map((c) => hex(c.base || '') + '\t' + hex(c.input)).join('\n') + '\n';
const run = spawnSync(driver, [], { input: stdin, maxBuffer: 1 << 30, encoding: 'utf8' });
if (run.status !== 0) {
  console.error(`url-driver failed (status ${run.status}): ${run.stderr}`);
  process.exit(1);
}
const lines = run.stdout.split('\n');
const stats = { both: 0, nodeOnly: 0, oursOnly: 0, neither: 0, unsupported: 0,
                hostDiff: 0, hrefDiff: 0 };
const shown = [];
const show = (what, c, n, o) => {
  if (shown.length < 40)
    shown.push(`${what}: input=${JSON.stringify(c.input)} base=${JSON.stringify(c.base)}\n` +
               `  node: ${JSON.stringify(n)}\n  ours: ${JSON.stringify(o)}`);
};
const idnOnly = [];
cases.forEach((c, i) => {
  const f = lines[i].split('\t');
  const o = { kind: f[0], href: f[1], host: f[2] };
  const n = node(c);
  if (n.kind === 'UNSUPPORTED' || o.kind === 'UNSUPPORTED') {
    stats.unsupported++;
    if (n.kind === 'OK' || o.kind === 'OK') { stats.hostDiff++; show('scheme', c, n, o); }
    return;
  }
  if (n.kind === 'OK' && o.kind === 'OK') {
    stats.both++;
    if (n.host !== o.host) { stats.hostDiff++; show('host', c, n, o); }
    else if (n.href !== o.href) { stats.hrefDiff++; show('href', c, n, o); }
  } else if (n.kind === 'OK') {
    stats.nodeOnly++;
    if (!/domain-to-ASCII/.test(f[1])) { stats.hostDiff++; show('refused', c, n, o); }
    else if (idnOnly.length < 10) idnOnly.push(JSON.stringify(c.input) + ' -> ' + n.host);
  } else if (o.kind === 'OK') {
    stats.oursOnly++; stats.hostDiff++; show('accepted', c, n, o);
  } else {
    stats.neither++;
  }
});
console.log(`url differential: ${cases.length} inputs in ${Date.now() - t0} ms: ` +
            JSON.stringify(stats));
if (idnOnly.length)
  console.log('refused by libidn2, accepted by UTS #46 (allowed), e.g.:\n  ' + idnOnly.join('\n  '));
if (shown.length) console.log(shown.join('\n'));
process.exit(stats.hostDiff || stats.hrefDiff ? 1 : 0);
