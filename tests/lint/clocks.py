#!/usr/bin/env python3
"""clocks.py SRC_DIR - every timer runs on the monotonic clock.

src/clock.h says it: CLOCK_MONOTONIC schedules every timer, deadline and
duration; the wall clock is only for values other processes read. This
checks what the compiler cannot:
  1. CLOCK_REALTIME is read only in clock.c (clock_wall_ms) and where a
     value is compared with another process's wall clock (ALLOWED_WALL);
  2. a file that calls pthread_cond_timedwait makes its condition
     variables with clock_cond_init: pthread's default (a NULL attribute,
     PTHREAD_COND_INITIALIZER) counts the timeout on the wall clock, so a
     step back would stall the wait for the length of the step.
Prints each breach with its file and line; exits 1 if there is one.
"""
import os
import re
import sys

# file -> why it may read the wall clock directly
ALLOWED_WALL = {
    'clock.c': 'clock_wall_ms itself',
    'runtime/runtime_docker.c': "the engine's event filter and container "
                                "creation times are the engine's wall clock",
}
COND_DEFAULT = re.compile(r'pthread_cond_init\s*\([^,]*,\s*NULL\s*\)|PTHREAD_COND_INITIALIZER')


def breaches(src):
    for root, _, files in os.walk(src):
        for name in sorted(files):
            if not name.endswith(('.c', '.h')):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, src)
            text = open(path, encoding='utf-8').read()
            lines = text.split('\n')
            for no, line in enumerate(lines, 1):
                if ('CLOCK_REALTIME' in line or 'gettimeofday(' in line) and \
                        rel not in ALLOWED_WALL and not line.lstrip().startswith(('*', '/*')):
                    yield f'{rel}:{no}: reads the wall clock (use clock_mono_ms for timers, clock_wall_ms for stored times)'
            if 'pthread_cond_timedwait' in text and rel != 'clock.c':
                for no, line in enumerate(lines, 1):
                    if COND_DEFAULT.search(line):
                        yield f'{rel}:{no}: a condition variable with timed waits made with the wall clock (use clock_cond_init)'
                if 'clock_cond_init' not in text:
                    yield f'{rel}: pthread_cond_timedwait on a condition variable not made by clock_cond_init'


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else 'src'
    found = list(breaches(src))
    for b in found:
        print(b)
    print(f'clocks: {len(found)} breach(es) in {src}')
    return 1 if found else 0


if __name__ == '__main__':
    sys.exit(main())
