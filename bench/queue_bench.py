#!/usr/bin/env python3
"""queue_bench.py - drain N pre-loaded BullMQ jobs with safeurl-worker's
noop processor and with the pinned bullmq Node Worker, against the same
private redis-server in the same run, at several concurrencies.

For each run it prints jobs/s, worker CPU per job, Redis CPU per job and
the worker's peak RSS, then the ratios ours/BullMQ. Both workers keep
BullMQ's per-minute metrics (WORKER_METRICS_MAX_DATA_POINTS, default
20160, as ours keeps them by default; 0 turns them off on both). The rate and the CPU
figures cover the window from the first completed job to the last one
(both workers' start-up is left out); jobs are preloaded with the bullmq
package's addBulk, so both drain identical jobs and emit the same events.

Each run is repeated (--repeat, alternating the two workers) and the
median of each figure is printed, to damp the noise of a shared machine.

usage: bench/queue_bench.py [--jobs N] [--concurrency 1,16,128] [--repeat 3]
                            [--log-level info]
       (run from the source tree after `cmake --preset release &&
        cmake --build --preset release`; tests/interop needs `npm ci`)
"""
import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORKER = os.path.join(SRC, 'build', 'release', 'safeurl-worker')
BULL = os.path.join(SRC, 'tests', 'interop', 'bull.js')
TICK = os.sysconf('SC_CLK_TCK')


class Redis:
    """Just enough RESP for INFO, ZCARD and FLUSHALL."""

    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port))
        self.f = self.s.makefile('rb')

    def cmd(self, *args):
        out = b'*%d\r\n' % len(args)
        for a in args:
            a = str(a).encode()
            out += b'$%d\r\n%s\r\n' % (len(a), a)
        self.s.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline().rstrip(b'\r\n')
        kind, rest = line[:1], line[1:]
        if kind == b'+':
            return rest.decode()
        if kind == b':':
            return int(rest)
        if kind == b'$':
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2].decode()
        if kind == b'*':
            return [self.read() for _ in range(int(rest))]
        raise RuntimeError(rest.decode())

    def cpu(self):
        info = dict(l.split(':', 1) for l in self.cmd('INFO', 'cpu').split('\r\n') if ':' in l)
        return float(info['used_cpu_user']) + float(info['used_cpu_sys'])


def proc_cpu(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_kb(pid):
    with open(f'/proc/{pid}/status') as f:
        for line in f:
            if line.startswith('VmHWM:'):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_one(kind, conc, jobs, port, r, env):
    r.cmd('FLUSHALL')
    subprocess.run(['node', BULL, 'fill', str(jobs)], env=env, check=True)
    r.cmd('CONFIG', 'RESETSTAT')
    if kind == 'ours':
        cmd = [WORKER, '--processor=noop']
        wenv = dict(env, WORKER_CONCURRENCY=str(conc), LOG_FORMAT='json',
                    LOG_LEVEL=env.get('BENCH_LOG_LEVEL', 'info'))
    else:
        # never stops by itself: measured through /proc like ours
        cmd = ['node', BULL, 'worker', str(conc), str(10 ** 9)]
        wenv = env
    p = subprocess.Popen(cmd, env=wenv, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    key = f'bull:{env["QUEUE_NAME"]}:completed'
    start = None
    deadline = time.time() + 600
    while time.time() < deadline:
        done = r.cmd('ZCARD', key)
        if done and start is None:
            start = (time.time(), proc_cpu(p.pid), r.cpu(), done)
        if done >= jobs:
            end = (time.time(), proc_cpu(p.pid), r.cpu(), done)
            break
        time.sleep(0.005)
    else:
        p.kill()
        raise RuntimeError(f'{kind} c={conc}: timed out')
    rss = peak_rss_kb(p.pid)
    if os.environ.get('BENCH_STATS'):
        print(kind, conc, [l for l in r.cmd('INFO', 'commandstats').split('\r\n') if 'calls=' in l])
    p.terminate()
    p.wait()
    n = end[3] - start[3]
    first = float(r.cmd('ZRANGE', key, 0, 0, 'WITHSCORES')[1])
    last = float(r.cmd('ZRANGE', key, -1, -1, 'WITHSCORES')[1])
    return {
        'jobs_s': (jobs - 1) / max((last - first) / 1000.0, 1e-3),
        'worker_us': (end[1] - start[1]) * 1e6 / max(n, 1),
        'redis_us': (end[2] - start[2]) * 1e6 / max(n, 1),
        'rss_mb': rss / 1024.0,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--jobs', type=int, default=20000)
    ap.add_argument('--concurrency', default='1,16,128')
    ap.add_argument('--repeat', type=int, default=3)
    ap.add_argument('--log-level', default='info',
                    help="safeurl-worker's LOG_LEVEL (info: one line per claim and outcome)")
    args = ap.parse_args()
    os.environ['BENCH_LOG_LEVEL'] = args.log_level
    if not os.access(WORKER, os.X_OK):
        sys.exit(f'{WORKER} missing: cmake --preset release && cmake --build --preset release')
    port = free_port()
    tmp = tempfile.mkdtemp(prefix='queue-bench.')
    srv = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1',
                            '--save', '', '--appendonly', 'no', '--dir', tmp],
                           stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                r = Redis(port)
                r.cmd('PING')
                break
            except OSError:
                time.sleep(0.05)
        env = dict(os.environ, REDIS_HOST='127.0.0.1', REDIS_PORT=str(port),
                   QUEUE_NAME='bench', BULLMQ_PREFIX='bull')
        # Both keep the same per-minute metrics: ours by default (SPEC),
        # the bullmq Worker when given the option.
        metrics = os.environ.get('WORKER_METRICS_MAX_DATA_POINTS', '20160')
        if metrics != '0':
            env['BULL_METRICS_MAX'] = metrics
        print(f'{args.jobs} jobs per run, redis-server on 127.0.0.1:{port}, '
              f'safeurl-worker LOG_LEVEL={args.log_level} (stderr to /dev/null), '
              f'metrics.maxDataPoints {metrics} on both workers')
        print(f'{"conc":>4} {"worker":>7} {"jobs/s":>9} {"worker us/job":>14} '
              f'{"redis us/job":>13} {"peak RSS MB":>12}')
        for conc in map(int, args.concurrency.split(',')):
            runs = {'bullmq': [], 'ours': []}
            for _ in range(args.repeat):
                for k in runs:
                    runs[k].append(run_one(k, conc, args.jobs, port, r, env))
            res = {k: {m: statistics.median(x[m] for x in v) for m in v[0]}
                   for k, v in runs.items()}
            for k, v in res.items():
                print(f'{conc:>4} {k:>7} {v["jobs_s"]:>9.0f} {v["worker_us"]:>14.1f} '
                      f'{v["redis_us"]:>13.1f} {v["rss_mb"]:>12.1f}')
            o, b = res['ours'], res['bullmq']
            print(f'{conc:>4} {"ratio":>7} {o["jobs_s"] / b["jobs_s"]:>8.2f}x '
                  f'{o["worker_us"] / b["worker_us"]:>13.3f}x {o["redis_us"] / b["redis_us"]:>12.3f}x '
                  f'{o["rss_mb"] / b["rss_mb"]:>11.3f}x')
    finally:
        srv.terminate()
        srv.wait()


if __name__ == '__main__':
    main()
