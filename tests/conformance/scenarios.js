// scenarios.js - the conformance scenarios run.js plays through both
// workers. Each: name; jobs (Queue.addBulk entries, added before the
// workers start); optional queueSetup/setup(ctx) before the workers,
// during(ctx) while they run, after(ctx) once settled; concurrency (each
// worker; default 1, BullMQ's default); fleet (['w'] one worker of the
// side's kind, ['w','node'] one of ours and one stock Node Worker...);
// env (ours) and nodeOpts (the Node Worker) for the same setting on each
// side; finished (jobs completed + failed when settled, default all) or a
// settled(counts) predicate; ordered: also compare the order in which jobs
// became active; refused: our side must fail the jobs at once with this
// reason (features not honoured, values out of range).
'use strict';

const J = (id, data, opts) => ({ name: 'scan', data: data || {}, opts: Object.assign({ jobId: id }, opts || {}) });
const fails = (reason, extra) => Object.assign({ fail: reason }, extra || {});

// Wait until a job reaches one of the states.
async function waitState(ctx, id, states, ms = 20000) {
  const t0 = Date.now();
  for (;;) {
    const job = await ctx.q.getJob(id);
    const st = job && await job.getState();
    if (states.includes(st)) return st;
    if (Date.now() - t0 > ms) throw new Error(`job ${id} never reached ${states} (now ${st})`);
    await ctx.sleep(20);
  }
}

// Rate limited to one job per second: the first and last of three jobs
// became active 2 s apart, no less (the limit) and not much more (a worker
// that waits for the window, not for some other wake-up).
async function limitSpacing(ctx) {
  const ev = await ctx.r.xrange(`${ctx.prefix}:${ctx.name}:events`, '-', '+');
  const ms = ev.filter(([, f]) => f[1] === 'active').map(([id]) => Number(id.split('-')[0]));
  const gap = ms[ms.length - 1] - ms[0];
  ctx.extra.activeSpacing = gap >= 1900 && gap < 3500 ? 'about 2 s' : `${gap} ms`;
}

// Sample the active list until the queue settles; the largest size seen.
async function sampleActive(ctx, key, ms) {
  let max = 0;
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    max = Math.max(max, await ctx.r.llen(`${ctx.prefix}:${ctx.name}:active`));
    const c = await ctx.q.getJobCounts('waiting', 'active', 'prioritized', 'delayed');
    if (c.waiting + c.active + c.prioritized + c.delayed === 0) break;
    await ctx.sleep(5);
  }
  ctx.extra[key] = max;
}

const flow = (parentOpts, childOpts, childData) => async ctx => {
  const fp = new ctx.FlowProducer({ connection: ctx.connection, prefix: ctx.prefix });
  await fp.add({
    name: 'scan', queueName: ctx.name, data: {}, opts: Object.assign({ jobId: 'parent' }, parentOpts || {}),
    children: [
      { name: 'scan', queueName: ctx.name, data: childData || {}, opts: Object.assign({ jobId: 'child-1' }, childOpts || {}) },
      { name: 'scan', queueName: ctx.name, data: {}, opts: { jobId: 'child-2' } },
    ],
  });
  await fp.close();
};

module.exports = [
  // ---- jobs and options already supported ----
  { name: 'complete-plain', jobs: [J('a')] },
  { name: 'complete-auto-ids', jobs: [1, 2, 3, 4, 5].map(i => ({ name: 'scan', data: { i } })), ordered: true },
  { name: 'complete-non-object-data', jobs: [{ name: 'scan', data: 'hello', opts: { jobId: 's' } }] },
  { name: 'complete-other-name', jobs: [{ name: 'other', data: { x: 1 }, opts: { jobId: 'o' } }] },
  { name: 'fail-no-attempts', jobs: [J('f', fails('E0: boom'))] },
  { name: 'attempts-fixed-backoff', jobs: [J('r', fails('E1: flaky', { failUntilAttempt: 3 }), { attempts: 3, backoff: { type: 'fixed', delay: 100 } })] },
  { name: 'attempts-exponential-exhausted', jobs: [J('r', fails('E2: down'), { attempts: 3, backoff: { type: 'exponential', delay: 50 } })] },
  { name: 'attempts-backoff-number', jobs: [J('r', fails('E3'), { attempts: 2, backoff: 80 })] },
  { name: 'attempts-backoff-jitter', jobs: [J('r', fails('E4'), { attempts: 2, backoff: { type: 'fixed', delay: 100, jitter: 0.5 } })] },
  { name: 'attempts-retry-now', jobs: [J('r', fails('E5', { failUntilAttempt: 2 }), { attempts: 2 })] },
  { name: 'unrecoverable', jobs: [J('u', fails('VALIDATION_ERROR: bad', { unrecoverable: true }), { attempts: 5, backoff: 100 })] },
  { name: 'delay', jobs: [J('d', {}, { delay: 300 }), J('n')], ordered: true },
  { name: 'priority-order', jobs: [J('p3', {}, { priority: 3 }), J('p1', {}, { priority: 1 }), J('plain'), J('p2', {}, { priority: 2 })], ordered: true },
  { name: 'delay-and-priority', jobs: [J('dp', {}, { delay: 200, priority: 2 }), J('p1', {}, { priority: 1 })] },
  { name: 'lifo-add', jobs: [J('a'), J('b'), J('c', {}, { lifo: true })], ordered: true },
  { name: 'remove-on-complete-true', jobs: [J('a', {}, { removeOnComplete: true }), J('b')], finished: 1 },
  { name: 'remove-on-fail-true', jobs: [J('a', fails('x'), { removeOnFail: true }), J('b', fails('y'))], finished: 2,
    settled: c => c.waiting + c.active === 0 && c.failed === 1 },
  { name: 'remove-on-complete-count', jobs: [J('a'), J('b'), J('c')].map(j => (j.opts.removeOnComplete = 1, j)),
    settled: c => c.waiting + c.active === 0 && c.completed === 1 },
  { name: 'remove-on-fail-count', jobs: [J('a', fails('x'), { removeOnFail: 2 }), J('b', fails('y'), { removeOnFail: 2 }), J('c', fails('z'), { removeOnFail: 2 })],
    settled: c => c.waiting + c.active === 0 && c.failed === 2 },
  { name: 'remove-on-complete-age', jobs: [J('a', {}, { removeOnComplete: { age: 3600 } }), J('b', {}, { removeOnComplete: { age: 3600, count: 1 } })],
    settled: c => c.waiting + c.active === 0 && c.completed === 1 },
  { name: 'custom-job-id-duplicate', jobs: [J('dup'), J('dup', { other: true })], finished: 1 },
  { name: 'stack-trace-limit-1', jobs: [J('s', fails('E6'), { attempts: 3, stackTraceLimit: 1 })] },
  { name: 'stack-trace-limit-0', jobs: [J('s', fails('E7'), { attempts: 2, stackTraceLimit: 0 })] },
  { name: 'keep-logs', jobs: [J('k', {}, { keepLogs: 2 })] },
  { name: 'progress-number', jobs: [J('p', { progress: 42, sleepMs: 20 })] },
  { name: 'progress-object-and-log', jobs: [J('p', { progress: { state: 'FETCHING' }, log: 'claimed' })] },
  { name: 'log-per-attempt-keep-logs', jobs: [J('l', fails('E20', { log: 'attempt', failUntilAttempt: 4 }), { attempts: 4, keepLogs: 2 })] },
  { name: 'log-per-attempt-all', jobs: [J('l', fails('E21', { log: 'attempt', progress: 1 }), { attempts: 3 })] },
  { name: 'many-concurrency-4', concurrency: 4, jobs: Array.from({ length: 20 }, (_, i) => J(`m${i}`, { sleepMs: 20 })) },

  // ---- lifo on retries, custom backoff ----
  { name: 'lifo-retry-first', ordered: true,
    jobs: [J('a', fails('E8', { failUntilAttempt: 2 }), { attempts: 2, lifo: true }), J('b'), J('c')] },
  { name: 'fifo-retry-last', ordered: true,
    jobs: [J('a', fails('E9', { failUntilAttempt: 2 }), { attempts: 2 }), J('b'), J('c')] },
  { name: 'custom-backoff-last-attempt', jobs: [J('c', fails('E10'), { attempts: 1, backoff: { type: 'custom' } })] },
  // attempts left: BullMQ's worker cannot compute the delay, reports an
  // error and leaves the job to stall until it fails for stalling.
  { name: 'custom-backoff-stalls', jobs: [J('c', fails('E11'), { attempts: 3, backoff: { type: 'custom', delay: 10 } })],
    timeoutMs: 60000, settled: c => c.failed === 1 },

  // ---- deduplication ----
  { name: 'dedup-simple-key-removed', jobs: [J('d1', { sleepMs: 100 }, { deduplication: { id: 'k' } })], finished: 2,
    during: async ctx => {
      await ctx.q.add('scan', {}, { jobId: 'd-dropped', deduplication: { id: 'k' } }); // while d1 runs: deduplicated
      await waitState(ctx, 'd1', ['completed']);
      await ctx.q.add('scan', {}, { jobId: 'd2', deduplication: { id: 'k' } }); // key gone: runs
    } },
  { name: 'dedup-ttl-kept', jobs: [J('t1', {}, { deduplication: { id: 'tk', ttl: 60000 } })], finished: 1,
    during: async ctx => {
      await waitState(ctx, 't1', ['completed']);
      await ctx.q.add('scan', {}, { jobId: 't2', deduplication: { id: 'tk', ttl: 60000 } }); // within ttl: deduplicated
    } },
  { name: 'dedup-extend-replace', jobs: [], finished: 1,
    setup: async ctx => {
      await ctx.q.add('scan', { v: 1 }, { jobId: 'e1', delay: 300, deduplication: { id: 'ek', ttl: 300, extend: true, replace: true } });
      await ctx.q.add('scan', { v: 2 }, { jobId: 'e2', delay: 300, deduplication: { id: 'ek', ttl: 300, extend: true, replace: true } });
    } },
  { name: 'dedup-keep-last-if-active', finished: 2,
    jobs: [J('k1', { sleepMs: 300 }, { deduplication: { id: 'kl', keepLastIfActive: true } })],
    during: async ctx => {
      await waitState(ctx, 'k1', ['active']);
      await ctx.q.add('scan', { v: 2 }, { jobId: 'k2', deduplication: { id: 'kl', keepLastIfActive: true } });
      await ctx.q.add('scan', { v: 3 }, { jobId: 'k3', deduplication: { id: 'kl', keepLastIfActive: true } });
    } },
  { name: 'dedup-keep-last-if-active-auto-id', finished: 2,
    jobs: [J('k1', { sleepMs: 300, fail: 'E22' }, { deduplication: { id: 'kl', keepLastIfActive: true } })],
    during: async ctx => {
      await waitState(ctx, 'k1', ['active']);
      await ctx.q.add('scan', { v: 2 }, { priority: 3, deduplication: { id: 'kl', keepLastIfActive: true } });
    } },

  // ---- global concurrency, rate limits ----
  { name: 'global-concurrency-1', concurrency: 4, jobs: [1, 2, 3, 4].map(i => J(`g${i}`, { sleepMs: 150 })),
    queueSetup: async ctx => { await ctx.q.setGlobalConcurrency(1); },
    during: ctx => sampleActive(ctx, 'maxActive', 20000) },
  { name: 'global-rate-limit', concurrency: 4, jobs: [1, 2, 3].map(i => J(`l${i}`)), timeoutMs: 30000,
    queueSetup: async ctx => { await ctx.q.setGlobalRateLimit(1, 1000); },
    after: limitSpacing },
  { name: 'worker-limiter', concurrency: 4, jobs: [1, 2, 3].map(i => J(`w${i}`)), timeoutMs: 30000,
    nodeOpts: { limiter: { max: 1, duration: 1000 } },
    env: { WORKER_LIMITER_MAX: '1', WORKER_LIMITER_DURATION_MS: '1000' },
    after: limitSpacing },

  // ---- fleets, pause, stalls, obliterate ----
  { name: 'mixed-fleet', fleet: ['w', 'node'], concurrency: 2, jobs: Array.from({ length: 12 }, (_, i) => J(`x${i}`, { sleepMs: 30 })) },
  { name: 'mixed-fleet-retries', fleet: ['w', 'node'], concurrency: 2,
    jobs: Array.from({ length: 6 }, (_, i) => J(`y${i}`, fails('E12', { failUntilAttempt: 2, sleepMs: 20 }), { attempts: 2 })) },
  { name: 'pause-resume', jobs: [J('a', { sleepMs: 200 }), J('b'), J('c')],
    during: async ctx => {
      await waitState(ctx, 'a', ['active', 'completed']);
      await ctx.q.pause();
      await waitState(ctx, 'a', ['completed']);
      await ctx.sleep(300);
      ctx.extra.pausedWhile = await ctx.q.getJobCountByTypes('paused', 'wait');
      await ctx.q.resume();
    } },
  { name: 'stalled-recovery', jobs: [J('s', { sleepFirstMs: 60000 })], timeoutMs: 60000,
    during: async ctx => {
      await waitState(ctx, 's', ['active']);
      await ctx.workers[0].kill();
      await ctx.startWorker();
    } },
  { name: 'obliterate-while-running', jobs: [J('o1', { sleepMs: 400 }), J('o2')],
    settled: c => Object.values(c).every(v => v === 0),
    during: async ctx => {
      await waitState(ctx, 'o1', ['active']);
      await ctx.q.obliterate({ force: true });
      await ctx.sleep(800);
    } },

  // ---- options validated before use ----
  { name: 'attempts-out-of-range', refused: 'VALIDATION_ERROR: opts.attempts=1e+300: expected an integer up to 2147483647',
    jobs: [J('v', {}, { attempts: 1e300 })] },
  { name: 'backoff-delay-out-of-range', refused: 'VALIDATION_ERROR: opts.backoff.delay=1e+300: expected an integer delay 0..9007199254740991 ms',
    jobs: [J('v', {}, { attempts: 2, backoff: { type: 'fixed', delay: 1e300 } })] },

  // ---- not honoured yet: each fails loudly ----
  { name: 'flow-child-completes', jobs: [], finished: 3, setup: flow() },
  { name: 'flow-fail-parent-on-failure', jobs: [], finished: 3,
    setup: flow({}, { failParentOnFailure: true }, fails('E13')) },
  { name: 'flow-continue-parent-on-failure', jobs: [], finished: 3,
    setup: flow({}, { continueParentOnFailure: true }, fails('E13b')) },
  { name: 'flow-ignore-dependency-on-failure', jobs: [], finished: 3,
    setup: flow({}, { ignoreDependencyOnFailure: true }, fails('E14')) },
  { name: 'flow-remove-dependency-on-failure', jobs: [], finished: 3,
    setup: flow({}, { removeDependencyOnFailure: true }, fails('E15')) },
  { name: 'flow-child-failure-parent-waits', jobs: [], setup: flow({}, {}, fails('E16')),
    settled: c => c.failed === 1 && c.completed === 1 && c['waiting-children'] === 1 && c.waiting + c.active === 0 },
  { name: 'flow-child-retries', jobs: [], finished: 3,
    setup: flow({}, { attempts: 2 }, fails('E17', { failUntilAttempt: 2 })) },
  { name: 'flow-child-remove-on-fail', jobs: [], finished: 2,
    setup: flow({}, { removeOnFail: true }, fails('E18')) },
  { name: 'flow-child-remove-on-complete', jobs: [], finished: 2,
    setup: flow({}, { removeOnComplete: true }) },
  { name: 'flow-parent-priority', jobs: [J('other', {}, { priority: 5 })], finished: 4, ordered: true,
    setup: flow({ priority: 1 }) },
  { name: 'flow-parent-delay', jobs: [], finished: 3, setup: flow({ delay: 200 }) },
  { name: 'flow-nested', jobs: [],
    settled: c => c.failed === 2 && c['waiting-children'] === 1 && c.waiting + c.active === 0,
    setup: async ctx => {
      const fp = new ctx.FlowProducer({ connection: ctx.connection, prefix: ctx.prefix });
      await fp.add({ name: 'scan', queueName: ctx.name, data: {}, opts: { jobId: 'top' }, children: [
        { name: 'scan', queueName: ctx.name, data: {}, opts: { jobId: 'mid' }, children: [
          { name: 'scan', queueName: ctx.name, data: fails('E19'), opts: { jobId: 'leaf', failParentOnFailure: true } }] }] });
      await fp.close();
    } },
  { name: 'flow-other-queue-parent', jobs: [], finished: 2,
    setup: async ctx => {
      const fp = new ctx.FlowProducer({ connection: ctx.connection, prefix: ctx.prefix });
      await fp.add({ name: 'scan', queueName: 'conf-parents', data: {}, opts: { jobId: 'p' }, children: [
        { name: 'scan', queueName: ctx.name, data: {}, opts: { jobId: 'c1' } },
        { name: 'scan', queueName: ctx.name, data: {}, opts: { jobId: 'c2' } }] });
      await fp.close();
    },
    settled: c => c.completed === 2 && c.waiting + c.active === 0,
    after: async ctx => { ctx.extra.parentQueue = await ctx.r.lrange(`${ctx.prefix}:conf-parents:wait`, 0, -1); } },
  { name: 'flow-pause-during', jobs: [], finished: 3,
    setup: flow({}, {}, { sleepMs: 200 }),
    during: async ctx => {
      await waitState(ctx, 'child-1', ['active', 'completed']);
      await ctx.q.pause();
      await waitState(ctx, 'child-1', ['completed']);
      await ctx.sleep(300);
      ctx.extra.parentWhilePaused = await (await ctx.q.getJob('parent')).getState();
      await ctx.q.resume();
    } },
  { name: 'flow-stalled-recovery', jobs: [], finished: 3, timeoutMs: 60000,
    setup: flow({}, {}, { sleepFirstMs: 60000 }),
    during: async ctx => {
      await waitState(ctx, 'child-1', ['active']);
      await ctx.workers[0].kill();
      await ctx.startWorker();
    } },
  { name: 'flow-mixed-fleet', fleet: ['w', 'node'], concurrency: 2, jobs: [], finished: 3,
    setup: flow({}, {}, { sleepMs: 50 }) },
  // ---- job schedulers and repeat ----
  { name: 'repeat-option-runs-once', jobs: [{ name: 'scan', data: {}, opts: { repeat: { every: 400 } } }] },
  { name: 'scheduler-every-limit', jobs: [], timeoutMs: 30000,
    setup: async ctx => { await ctx.q.upsertJobScheduler('sched', { every: 300, limit: 3 }, { name: 'scan', data: { x: 1 } }); },
    settled: c => c.completed === 3 && c.delayed + c.waiting + c.active + c.prioritized === 0 },
  { name: 'scheduler-every-opts', jobs: [], timeoutMs: 30000,
    setup: async ctx => {
      await ctx.q.upsertJobScheduler('s2', { every: 250, limit: 4 },
        { name: 'other', data: { fail: 'E23', failUntilAttempt: 2 }, opts: { attempts: 2, backoff: 50, removeOnComplete: 2 } });
    },
    settled: c => c.completed === 2 && c.delayed + c.waiting + c.active + c.prioritized === 0 },
  { name: 'scheduler-every-removed', jobs: [], timeoutMs: 30000,
    setup: async ctx => { await ctx.q.upsertJobScheduler('sched', { every: 400 }, { name: 'scan', data: {} }); },
    settled: c => c.completed >= 2,
    after: async ctx => { await ctx.q.removeJobScheduler('sched'); } },
  // A scheduler's run that stalls twice is not failed for it (a plain job
  // would be: see custom-backoff-stalls); it runs again and completes.
  { name: 'scheduler-run-stall-exempt', jobs: [], timeoutMs: 60000,
    setup: async ctx => { await ctx.q.upsertJobScheduler('st', { every: 60000, limit: 1 }, { name: 'scan', data: { sleepMs: 2500 } }); },
    settled: c => c.completed === 1 && c.waiting + c.active === 0,
    during: async ctx => {
      for (let started = 1; started <= 2; started++) {
        // the run active in its started-th attempt: then kill its worker
        const t0 = Date.now();
        for (;;) {
          const [job] = await ctx.q.getJobs(['active']);
          const fresh = job && await ctx.q.getJob(job.id);
          if (fresh && fresh.attemptsStarted === started) break;
          if (Date.now() - t0 > 30000) throw new Error(`the run never started attempt ${started}`);
          await ctx.sleep(20);
        }
        await ctx.workers[ctx.workers.length - 1].kill();
        await ctx.startWorker();
      }
    } },
  { name: 'scheduler-pattern', refused: 'UNSUPPORTED_OPTION: repeat.pattern', jobs: [], timeoutMs: 30000,
    setup: async ctx => { await ctx.q.upsertJobScheduler('cron', { pattern: '*/2 * * * * *' }, { name: 'scan', data: {} }); } },
];
