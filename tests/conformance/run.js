#!/usr/bin/env node
// run.js - the differential conformance suite: each scenario of
// scenarios.js runs once through bullmq's own Node Worker and once through
// safeurl-worker, each on a freshly emptied Redis, and the normalised
// outcomes must be equal: every job hash (the fields that carry meaning),
// the membership of every BullMQ key the scenario touched, and the
// QueueEvents sequence of each job. A difference prints a diff and fails.
//
//   node run.js REDIS_PORT WORKER_BINARY [NAME_REGEX]
//
// Both sides use the same processor rules (safeurl-worker's "test"
// processor, mirrored below) and the same lock and stalled timings
// (shortened through SAFEURL_TEST_LOCK_MS / SAFEURL_TEST_STALLED_MS and
// the Worker's lockDuration / stalledInterval); everything else is the
// Node Worker's default. Scenarios whose feature safeurl-worker does not
// honour say so (unsupported: option): then the suite checks that our side
// fails each such job at once with "UNSUPPORTED_OPTION: <option>".
'use strict';
const { spawn } = require('child_process');
const path = require('path');
const fs = require('fs');
const bullmq = require(path.join(__dirname, '../interop/node_modules/bullmq'));
const IORedis = require(path.join(__dirname, '../interop/node_modules/ioredis'));
const { Queue, Worker, FlowProducer, UnrecoverableError } = bullmq;
const scenarios = require('./scenarios');

const [port, workerBin, filter] = process.argv.slice(2);
if (!port || !workerBin) {
  console.error('usage: run.js REDIS_PORT WORKER_BINARY [NAME_REGEX]');
  process.exit(64);
}
const connection = { host: '127.0.0.1', port: Number(port), maxRetriesPerRequest: null };
const QNAME = 'conf';
const PREFIX = 'bull';
const LOCK_MS = 1000;
const STALLED_MS = 1000;
const sleep = ms => new Promise(r => setTimeout(r, ms));

// The "test" processor's rules (src/worker_processors.c).
async function testProcessor(job) {
  const d = job.data || {};
  if (d.progress !== undefined) await job.updateProgress(d.progress);
  if (typeof d.log === 'string') await job.log(d.log);
  let ms = d.sleepMs || 0;
  if (d.sleepFirstMs !== undefined && job.attemptsStarted === 1) ms = d.sleepFirstMs;
  if (ms) await sleep(ms);
  if (typeof d.fail === 'string' &&
      (d.failUntilAttempt === undefined || job.attemptsMade + 1 < d.failUntilAttempt))
    throw d.unrecoverable ? new UnrecoverableError(d.fail) : new Error(d.fail);
  return { ok: true, jobId: job.id };
}

// A worker of one kind on QNAME: start() and stop().
function nodeWorker(conc, extraOpts) {
  let w;
  return {
    kind: 'node',
    async start() {
      w = new Worker(QNAME, testProcessor, {
        connection, prefix: PREFIX, concurrency: conc,
        lockDuration: LOCK_MS, stalledInterval: STALLED_MS,
        // safeurl-worker keeps BullMQ's metrics by default
        // (WORKER_METRICS_MAX_DATA_POINTS): the same option here.
        metrics: { maxDataPoints: 20160 }, ...(extraOpts || {}),
      });
      w.on('error', () => {}); // as logged by a stock deployment; not an outcome
      await w.waitUntilReady();
    },
    async stop() { if (!this.killed) await w.close(true); },
    async kill() { this.killed = true; await w.close(true); },
  };
}

// Our worker processes still running: killed (by pid) if the runner dies.
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function ourWorker(conc, env) {
  let child, exited;
  return {
    kind: 'ours',
    log: '',
    async start() {
      child = spawn(workerBin, ['--processor=test'], {
        env: Object.assign({}, process.env, {
          REDIS_HOST: '127.0.0.1', REDIS_PORT: String(port), QUEUE_NAME: QNAME,
          BULLMQ_PREFIX: PREFIX, WORKER_CONCURRENCY: String(conc),
          LOG_FORMAT: 'json', LOG_LEVEL: 'info',
          SAFEURL_TEST_LOCK_MS: String(LOCK_MS), SAFEURL_TEST_STALLED_MS: String(STALLED_MS),
        }, env || {}),
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      children.add(child);
      child.stderr.on('data', b => { this.log += b.toString(); });
      exited = new Promise(r => child.on('exit', (code, sig) => { children.delete(child); r(sig || code); }));
      const t0 = Date.now();
      while (!/"event":"connect"[^\n]*command connection ready/.test(this.log)) {
        if (Date.now() - t0 > 30000) throw new Error('safeurl-worker did not connect:\n' + this.log);
        if (child.exitCode !== null) throw new Error('safeurl-worker exited:\n' + this.log);
        await sleep(20);
      }
    },
    async stop() {
      if (this.killed) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30000);
      const rc = await exited;
      clearTimeout(t);
      if (rc !== 0) throw new Error(`safeurl-worker exited ${rc}:\n${this.log}`);
    },
    async kill() { this.killed = true; if (child.exitCode === null) child.kill('SIGKILL'); await exited; },
  };
}

// ---- normalisation ----

// Times: present or not. "pb" names the worker (a Node Worker sets it only
// when given a name): identity, not outcome.
const TIME_FIELDS = new Set(['timestamp', 'processedOn', 'finishedOn']);
// opts as an object with sorted keys (the JSON text's key order is the
// Lua table's, not meaning); its times only for presence.
function normOpts(v) {
  let o;
  try { o = JSON.parse(v); } catch (e) { return v; }
  if (!o || typeof o !== 'object') return v;
  for (const k of ['timestamp', 'prevMillis']) if (k in o) o[k] = 'set';
  if (Number(o.delay) > 0) o.delay = 'set';
  const sorted = x => (x && typeof x === 'object' && !Array.isArray(x)
    ? Object.fromEntries(Object.keys(x).sort().map(k => [k, sorted(x[k])])) : x);
  return JSON.stringify(sorted(o));
}

function normJob(h) {
  const o = {};
  for (const [k, v] of Object.entries(h)) {
    if (k === 'pb') continue;
    if (k === 'opts') o[k] = normOpts(v);
    else if (TIME_FIELDS.has(k)) o[k] = 'set';
    else if (k === 'stacktrace') o[k] = `${JSON.parse(v || '[]').length} entries`;
    else if (k === 'delay' && Number(v) > 0) o[k] = 'set';
    else o[k] = v;
  }
  return o;
}

// Keys whose content is timing, not outcome (the metrics' per-minute
// points depend on where the minute boundaries fall).
const SKIP_KEYS = /:(stalled|stalled-check|marker|pc|limiter|events|id|meta)$|:lock$|:metrics:(completed|failed):data$/;

async function snapshot(r, sc, ctx) {
  const keys = (await r.keys(`${PREFIX}:${QNAME}:*`)).sort();
  const out = { keys: {}, jobs: {}, events: {} };
  for (const k of keys) {
    if (SKIP_KEYS.test(k)) continue;
    const t = await r.type(k);
    const short = k.slice(PREFIX.length + QNAME.length + 2);
    if (t === 'hash') {
      const h = await r.hgetall(k);
      // A scheduler's hash: its offset comes from the time it was made.
      if (/^repeat:[^:]+$/.test(short)) out.keys[short] = Object.assign({}, h, h.offset ? { offset: 'set' } : {});
      else if ('opts' in h || 'data' in h) out.jobs[short] = normJob(h);
      // Metrics: the count of finished jobs; prevTS and prevCount are times.
      else if (/^metrics:(completed|failed)$/.test(short)) out.keys[short] = { count: h.count };
      else out.keys[short] = h;
    } else if (t === 'list') {
      out.keys[short] = (await r.lrange(k, 0, -1)).slice().sort();
    } else if (t === 'zset') {
      out.keys[short] = (await r.zrange(k, 0, -1)).slice().sort();
    } else if (t === 'set') {
      out.keys[short] = (await r.smembers(k)).sort();
    } else if (t === 'string') {
      out.keys[short] = await r.get(k);
    } else {
      out.keys[short] = t;
    }
  }
  const ev = await r.xrange(`${PREFIX}:${QNAME}:events`, '-', '+');
  for (const [, fl] of ev) {
    const f = {};
    for (let i = 0; i < fl.length; i += 2) f[fl[i]] = fl[i + 1];
    if (f.event === 'drained') continue;
    const id = f.jobId || '(queue)';
    delete f.jobId;
    delete f.delay; // a timestamp
    (out.events[id] = out.events[id] || []).push(Object.entries(f).map(([k, v]) => `${k}=${v}`).join(' '));
  }
  if (sc.ordered)
    out.order = ev.map(([, fl]) => fl).filter(fl => fl[1] === 'active').map(fl => fl[3]);
  if (Object.keys(ctx.extra).length) out.extra = ctx.extra;
  return normRunIds(out);
}

// A scheduler's run is named by its time ("repeat:<id>:<ms>"), which no
// two runs share: name each by its rank instead.
function normRunIds(out) {
  let text = JSON.stringify(out);
  const ms = [...new Set([...text.matchAll(/repeat:[^:"\\]+:(\d{10,})/g)].map(m => m[1]))]
    .sort((a, b) => Number(a) - Number(b));
  ms.forEach((m, i) => { text = text.split(`:${m}`).join(`:#${i}`); });
  return JSON.parse(text);
}

function diff(a, b, where = '') {
  const lines = [];
  if (JSON.stringify(a) === JSON.stringify(b)) return lines;
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort())
      lines.push(...diff(a[k], b[k], where ? `${where}.${k}` : k));
    return lines;
  }
  lines.push(`  ${where}:\n    node: ${JSON.stringify(a)}\n    ours: ${JSON.stringify(b)}`);
  return lines;
}

// ---- one run ----

async function counts(q) {
  return q.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'completed',
    'failed', 'waiting-children', 'paused');
}

async function settled(q, sc) {
  const c = await counts(q);
  if (sc.settled) return sc.settled(c);
  return c.waiting + c.active + c.delayed + c.prioritized + c['waiting-children'] + c.paused === 0 &&
    c.completed + c.failed === (sc.finished !== undefined ? sc.finished : sc.jobs.length);
}

async function runSide(sc, side) {
  const r = new IORedis(connection);
  await r.flushall();
  const q = new Queue(QNAME, { connection, prefix: PREFIX });
  const ctx = { q, r, side, connection, prefix: PREFIX, name: QNAME, sleep, FlowProducer,
    extra: {}, startWorker: null };
  if (sc.queueSetup) await sc.queueSetup(ctx);
  if (sc.jobs.length) await q.addBulk(sc.jobs);
  if (sc.setup) await sc.setup(ctx);
  const conc = sc.concurrency || 1;
  let workers;
  const make = k => (side === 'node' || k === 'node' ? nodeWorker(conc, sc.nodeOpts) : ourWorker(conc, sc.env));
  workers = (sc.fleet || ['w']).map(make);
  for (const w of workers) await w.start();
  ctx.workers = workers;
  // A replacement worker of the first worker's kind (stalled recovery).
  ctx.startWorker = async () => { const w = make((sc.fleet || ['w'])[0]); await w.start(); workers.push(w); };
  let err;
  try {
    if (sc.during) await sc.during(ctx);
    const t0 = Date.now();
    while (!(await settled(q, sc))) {
      if (Date.now() - t0 > (sc.timeoutMs || 30000))
        throw new Error(`did not settle: ${JSON.stringify(await counts(q))}`);
      await sleep(50);
    }
    if (sc.after) await sc.after(ctx);
    await sleep(sc.quietMs || 200);
  } catch (e) {
    err = e;
  }
  // Stop every worker, even when one of them fails to stop.
  for (const w of workers) {
    try {
      await (err ? w.kill() : w.stop());
    } catch (e) {
      err = err || e;
      await w.kill().catch(() => {});
    }
  }
  const snap = await snapshot(r, sc, ctx);
  const log = workers.map(w => w.log || '').join('');
  await q.close();
  r.disconnect();
  if (err) {
    err.message += `\n${side} worker log:\n${log.split('\n').slice(-20).join('\n')}`;
    throw err;
  }
  return snap;
}

async function main() {
  const re = filter ? new RegExp(filter) : null;
  let failed = 0, ran = 0;
  for (const sc of scenarios) {
    if (re && !re.test(sc.name)) continue;
    ran++;
    const t0 = Date.now();
    try {
      if (sc.refused) {
        // Not honoured (or out of range): our side must fail the jobs
        // sc.refusedIds (default: all) at once with this reason.
        const n = (sc.refusedIds || sc.jobs).length || 1;
        const ours = await runSide(Object.assign({ settled: c => c.failed >= n }, sc), 'ours');
        const ids = sc.refusedIds || Object.keys(ours.jobs).filter(id => ours.jobs[id].processedOn);
        if (!ids.length) throw new Error('no job was taken');
        const bad = ids.filter(id => !ours.jobs[id] || ours.jobs[id].failedReason !== sc.refused ||
                                     ours.jobs[id].atm !== '1');
        if (bad.length) throw new Error(`expected failedReason ${sc.refused} after one attempt, got ${JSON.stringify(bad.map(id => [id, ours.jobs[id]]))}`);
        console.log(`ok - ${sc.name} (fails at once: ${sc.refused}) ${Date.now() - t0} ms`);
        continue;
      }
      const node = await runSide(sc, 'node');
      const ours = await runSide(sc, 'ours');
      if (process.env.CONFORMANCE_DUMP)
        console.log(JSON.stringify({ node, ours }, null, 1));
      const d = diff(node, ours);
      if (sc.check) d.push(...(sc.check(node, ours) || []));
      if (d.length) {
        failed++;
        console.log(`not ok - ${sc.name}\n${d.join('\n')}`);
      } else {
        console.log(`ok - ${sc.name} ${Date.now() - t0} ms`);
      }
    } catch (e) {
      failed++;
      console.log(`not ok - ${sc.name}: ${e.message}`);
    }
  }
  console.log(`# ${ran - failed} passed, ${failed} failed`);
  if (!ran) console.log('# no scenario matched');
  process.exit(failed || !ran ? 1 : 0);
}

main().catch(e => { console.error(e); process.exit(1); });
