#!/usr/bin/env python3
"""fetcher_bench.py - fetch-and-analyse of a local 100 KB page.

Runs safeurl-fetcher (release build) and `curl -s -o /dev/null` against
the same 100 KB HTML page served by the fixture server on loopback,
interleaved, RUNS times each, and prints for both the median and mean
wall time and the peak RSS (GNU time's %M), then the ratios. Aims: within
1.5x curl's wall time, under 10 MB RSS.

Usage: bench/fetcher_bench.py [FETCHER] [RUNS]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def run(argv, tmp):
    """Wall seconds and max RSS (KiB) of one child; it must exit 0.

    The RSS comes from GNU time, a small parent: a child forked straight
    from this Python process would report Python's own pages as its peak.
    """
    out = os.path.join(tmp, "rss")
    t0 = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", out] + argv,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bench: %s failed: %s" % (argv[0], p.stderr.decode()))
    with open(out) as f:
        return wall, int(f.read().split()[-1])


def start_fixture(tmp):
    ports = os.path.join(tmp, "ports")
    srv = subprocess.Popen([sys.executable, os.path.join(SRC, "tests/fixtures/fetcher_fixture.py"),
                            "--port-file", ports])
    for _ in range(200):
        if os.path.exists(ports):
            return srv, int(open(ports).read().split()[0])
        time.sleep(0.05)
    srv.kill()
    sys.exit("bench: fixture server did not start")


def report(name, samples):
    walls = [w for w, _ in samples]
    rss = max(r for _, r in samples)
    med_rss = statistics.median(r for _, r in samples)
    print("%-16s wall median %6.2f ms, mean %6.2f ms; peak RSS max %5.1f MiB, median %5.1f MiB" %
          (name, statistics.median(walls) * 1e3, statistics.mean(walls) * 1e3,
           rss / 1024, med_rss / 1024))
    return statistics.median(walls), rss


def main():
    fetcher = sys.argv[1] if len(sys.argv) > 1 else os.path.join(SRC, "build/release/safeurl-fetcher")
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    # As in the image (src/fetcher/Dockerfile), for both programs: both map
    # GnuTLS only through librtmp and never use it.
    os.environ["GNUTLS_NO_IMPLICIT_INIT"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        srv, port = start_fixture(tmp)
        try:
            url = "http://bench.test:%d/page100k" % port
            f_argv = [fetcher, "--allow-loopback", "--ports", "1024-65535",
                      "--resolve", "bench.test:%d:127.0.0.1" % port, url]
            c_argv = ["curl", "-s", "-o", "/dev/null", "--resolve",
                      "bench.test:%d:127.0.0.1" % port, url]
            run(f_argv, tmp), run(c_argv, tmp)  # warm caches
            fs, cs = [], []
            for _ in range(runs):
                fs.append(run(f_argv, tmp))
                cs.append(run(c_argv, tmp))
        finally:
            srv.kill()
            srv.wait()
    print("fetch-and-analyse of a 100 KB page on loopback, %d runs each, interleaved" % runs)
    fw, frss = report("safeurl-fetcher", fs)
    cw, crss = report("curl", cs)
    print("ratio wall (median) fetcher/curl: %.2fx (aim <= 1.5x)" % (fw / cw))
    print("ratio peak RSS fetcher/curl:      %.2fx (fetcher %.1f MiB, aim < 10 MiB)" %
          (frss / crss, frss / 1024))


if __name__ == "__main__":
    main()
