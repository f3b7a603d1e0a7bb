#!/usr/bin/env python3
"""Tiny timing helper for the bench scripts (python3 stdlib only).

    timeit.py run [--cwd DIR] [--ok 0,1] [--env K=V]... -- CMD [ARG...]
        runs CMD once with stdout to /dev/null, prints its wall time in ms
        (time.perf_counter around subprocess.run, so python's own start-up is
        not counted). An exit code outside --ok (default 0) prints CMD's
        stderr and exits 2.
    timeit.py median MS...      prints the median, 1 decimal
    timeit.py rmedian R...      prints the median of ratios, 2 decimals
    timeit.py min MS...         prints the minimum, 2 decimals
    timeit.py ratio A B         prints A/B, 2 decimals
"""

import os
import statistics
import subprocess
import sys
import time


def run(argv):
    cwd, ok, env = None, {0}, dict(os.environ)
    while argv and argv[0] != "--":
        opt = argv.pop(0)
        if opt == "--cwd":
            cwd = argv.pop(0)
        elif opt == "--ok":
            ok = {int(c) for c in argv.pop(0).split(",")}
        elif opt == "--env":
            k, _, v = argv.pop(0).partition("=")
            env[k] = v
        else:
            sys.exit("timeit.py run: unknown option %s" % opt)
    cmd = argv[1:]
    if not cmd:
        sys.exit("timeit.py run: no command after --")
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    ms = (time.perf_counter() - t0) * 1000.0
    if p.returncode not in ok:
        err = p.stderr.decode("utf-8", "replace")[-4000:]
        sys.stderr.write("timeit.py: `%s` exited %d (expected %s)\n%s"
                         % (" ".join(cmd), p.returncode, sorted(ok), err))
        sys.exit(2)
    print("%.3f" % ms)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    what, args = sys.argv[1], sys.argv[2:]
    if what == "run":
        run(args)
    elif what == "median":
        print("%.1f" % statistics.median(float(a) for a in args))
    elif what == "rmedian":
        print("%.2f" % statistics.median(float(a) for a in args))
    elif what == "min":
        print("%.2f" % min(float(a) for a in args))
    elif what == "ratio":
        print("%.2f" % (float(args[0]) / float(args[1])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
