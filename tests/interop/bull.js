#!/usr/bin/env node
// bull.js - the stock bullmq package (pinned in package.json) as a command
// line tool for the queue tests and the benchmark. Every command talks to
// REDIS_HOST:REDIS_PORT, queue QUEUE_NAME, prefix BULLMQ_PREFIX.
//
//   add JSON           addBulk([{name, data, opts}...]); prints the ids
//   counts             getJobCounts() as JSON
//   job ID             Job.fromId() fields as JSON (null when missing)
//   events [MS]        every event on the stream, read with QueueEvents
//                      from the start, one JSON line each, up to the
//                      stream's last entry at the start and then until MS
//                      ms pass without a new one (default 700)
//   pause | resume     Queue.pause() / Queue.resume()
//   worker C N [FILE]  a BullMQ Worker at concurrency C with a no-op
//                      processor ({"ok":true,"jobId":id}) until N jobs
//                      completed here; appends each id to FILE; prints
//                      {jobs, seconds, cpuUs, maxRssKb} as JSON;
//                      BULL_METRICS_MAX sets its metrics.maxDataPoints
//   fill N             add N small jobs with addBulk (benchmark preload)
//   worker-test N FILE a BullMQ Worker (concurrency 4) with the same rules
//                      as safeurl-worker's test processor, until N jobs
//                      completed or failed for good; appends ids to FILE;
//                      writes BULL_READY_FILE (if set) once connected;
//                      BULL_WORKER_NAME sets the worker's name option,
//                      BULL_METRICS_MAX its metrics.maxDataPoints
//   workers            Queue.getWorkers() as JSON
//   metrics TYPE       Queue.getMetrics(TYPE) as JSON (completed | failed)
'use strict';
const fs = require('fs');
const { Queue, QueueEvents, Worker, Job, UnrecoverableError } = require('bullmq');

const connection = {
  host: process.env.REDIS_HOST || '127.0.0.1',
  port: Number(process.env.REDIS_PORT || 6379),
  password: process.env.REDIS_PASSWORD || undefined,
  username: process.env.REDIS_USERNAME || undefined,
  maxRetriesPerRequest: null,
};
// REDIS_SENTINELS=host:port,... and REDIS_SENTINEL_MASTER: ioredis's
// sentinel options, as a BullMQ deployment behind Sentinel sets them.
if (process.env.REDIS_SENTINELS) {
  connection.sentinels = process.env.REDIS_SENTINELS.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  });
  connection.name = process.env.REDIS_SENTINEL_MASTER;
  connection.sentinelPassword = process.env.REDIS_SENTINEL_PASSWORD || undefined;
  delete connection.host;
  delete connection.port;
}
const name = process.env.QUEUE_NAME || 'scan-jobs';
const prefix = process.env.BULLMQ_PREFIX || 'bull';
const opts = { connection, prefix };
// REDIS_CLUSTER_NODES=host:port,...: an ioredis Cluster (the prefix must
// hold a {hash tag}), as a BullMQ deployment on Redis Cluster sets it.
if (process.env.REDIS_CLUSTER_NODES) {
  const { Cluster } = require('ioredis');
  opts.connection = new Cluster(process.env.REDIS_CLUSTER_NODES.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    return { host: hp.slice(0, i), port: Number(hp.slice(i + 1)) };
  }), { redisOptions: { password: connection.password, username: connection.username,
    maxRetriesPerRequest: null } });
}

// BULL_METRICS_MAX=N: a Worker's metrics option ({} when unset).
function metricsOpt() {
  const max = process.env.BULL_METRICS_MAX;
  return max ? { metrics: { maxDataPoints: Number(max) } } : {};
}

async function withQueue(fn) {
  const q = new Queue(name, opts);
  try {
    return await fn(q);
  } finally {
    await q.close();
  }
}

const commands = {
  async add(spec) {
    const jobs = await withQueue(q => q.addBulk(JSON.parse(spec)));
    for (const j of jobs) console.log(j.id);
  },
  async fill(n) {
    await withQueue(async q => {
      for (let i = 0; i < Number(n); i += 1000) {
        const batch = [];
        for (let k = i; k < Math.min(i + 1000, Number(n)); k++)
          batch.push({ name: 'scan', data: { url: `http://127.0.0.1/${k}` } });
        await q.addBulk(batch);
      }
    });
  },
  async counts() {
    console.log(JSON.stringify(await withQueue(q => q.getJobCounts())));
  },
  async job(id) {
    const [j, state] = await withQueue(async q => {
      const job = await Job.fromId(q, id);
      return [job, job && await job.getState()];
    });
    console.log(JSON.stringify(j ? {
      id: j.id, name: j.name, data: j.data, returnvalue: j.returnvalue,
      failedReason: j.failedReason, attemptsMade: j.attemptsMade,
      attemptsStarted: j.attemptsStarted, processedOn: j.processedOn,
      finishedOn: j.finishedOn, stacktrace: j.stacktrace, delay: j.delay,
      stalledCounter: j.stalledCounter, processedBy: j.processedBy,
      progress: j.progress,
      state,
    } : null));
  },
  async events(ms) {
    // The stream's last entry at the start is the target: every event up
    // to it is read whatever the machine's load, then MS ms of quiet.
    const idle = Number(ms || 700);
    const target = await withQueue(async q => {
      const client = await q.getBackend().client;
      const last = await client.xrevrange(q.keys.events, '+', '-', 'COUNT', 1);
      return last.length ? last[0][0] : null;
    });
    const after = (a, b) => {
      const [am, as] = a.split('-').map(Number), [bm, bs] = b.split('-').map(Number);
      return am > bm || (am === bm && as >= bs);
    };
    const qe = new QueueEvents(name, { ...opts, lastEventId: '0-0' });
    let last = Date.now(), reached = target === null;
    const emit = qe.emit.bind(qe);
    qe.emit = (ev, ...args) => { // (event, fields, id), or ('drained', id)
      const id = args.find((a, i) => i < 2 && typeof a === 'string' && /^\d+-\d+$/.test(a));
      if (id && target && after(id, target)) reached = true;
      return emit(ev, ...args);
    };
    const names = ['added', 'waiting', 'active', 'completed', 'failed',
      'delayed', 'stalled', 'retries-exhausted', 'drained', 'duplicated',
      'paused', 'resumed', 'progress'];
    for (const ev of names)
      qe.on(ev, (args, id) => {
        last = Date.now();
        console.log(JSON.stringify({ event: ev, ...(typeof args === 'object' ? args : {}), id }));
      });
    await qe.waitUntilReady();
    const deadline = Date.now() + 60000;
    last = Date.now();
    while ((!reached || Date.now() - last < idle) && Date.now() < deadline)
      await new Promise(r => setTimeout(r, 50));
    await qe.close();
    if (!reached) throw new Error(`events: stream entry ${target} not read within 60 s`);
  },
  async workers() {
    console.log(JSON.stringify(await withQueue(q => q.getWorkers())));
  },
  async metrics(type) {
    console.log(JSON.stringify(await withQueue(q => q.getMetrics(type))));
  },
  async pause() { await withQueue(q => q.pause()); },
  async resume() { await withQueue(q => q.resume()); },
  // Mirrors src/worker_processors.c "test": same data, same outcomes.
  async 'worker-test'(n, file) {
    let done = 0;
    let finish;
    const finished = new Promise(r => (finish = r));
    const w = new Worker(name, async job => {
      const d = job.data || {};
      // "ledger": start and end lines, as safeurl-worker's test processor
      const ledger = what => d.ledger && fs.appendFileSync(d.ledger, `${what} ${job.id} ${process.pid}\n`);
      ledger('start');
      let ms = d.sleepMs || 0;
      if (d.sleepFirstMs !== undefined && job.attemptsStarted === 1) ms = d.sleepFirstMs;
      if (ms) await new Promise(r => setTimeout(r, ms));
      ledger('end');
      if (typeof d.fail === 'string' &&
          (d.failUntilAttempt === undefined || job.attemptsMade + 1 < d.failUntilAttempt))
        throw d.unrecoverable ? new UnrecoverableError(d.fail) : new Error(d.fail);
      return { ok: true, jobId: job.id };
    }, { ...opts, concurrency: 4,
      ...(process.env.BULL_WORKER_NAME ? { name: process.env.BULL_WORKER_NAME } : {}),
      ...metricsOpt() });
    const settled = job => {
      if (file) fs.appendFileSync(file, job.id + '\n');
      if (++done >= Number(n)) finish();
    };
    w.on('completed', settled);
    w.on('failed', (job, err) => {
      if (job && job.finishedOn) settled(job);
    });
    await w.waitUntilReady();
    if (process.env.BULL_READY_FILE) fs.writeFileSync(process.env.BULL_READY_FILE, 'ready\n');
    await finished;
    await w.close(true); // all counted jobs are settled: do not wait for the block
  },
  async worker(c, n, file) {
    const want = Number(n);
    let done = 0;
    const t0 = process.hrtime.bigint();
    const cpu0 = process.cpuUsage();
    let finish;
    const finished = new Promise(r => (finish = r));
    const w = new Worker(name, async job => ({ ok: true, jobId: job.id }),
      { ...opts, concurrency: Number(c), ...metricsOpt() });
    w.on('completed', job => {
      if (file) fs.appendFileSync(file, job.id + '\n');
      if (++done >= want) finish();
    });
    await finished;
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    await w.close();
    console.log(JSON.stringify({ jobs: done, seconds: secs,
      cpuUs: cpu.user + cpu.system, maxRssKb: process.resourceUsage().maxRSS }));
  },
};

// A reader that stops early (grep -q) must not leave us blocked in Redis.
process.stdout.on('error', () => process.exit(0));

const [cmd, ...args] = process.argv.slice(2);
if (!commands[cmd]) {
  console.error(`usage: bull.js ${Object.keys(commands).join('|')} ...`);
  process.exit(64);
}
commands[cmd](...args).then(() => process.exit(0), err => {
  console.error(err && err.stack || err);
  process.exit(1);
});
