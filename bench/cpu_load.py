"""How busy the whole machine is, from /proc/stat: the benchmark's noise meter.

On a 2-core machine shared with compilers and test suites, a benchmark child that gets one core
instead of two runs several times slower (a 2-thread OpenMP team waits at every barrier for the
thread that is not scheduled). The driver cannot stop other work, but it can say how much there
was: the machine's busy CPU time during a child, minus the child's own CPU time, is what others
used meanwhile.
"""
import os
import time

TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
CPUS = os.cpu_count() or 1


def busy_seconds():
    """CPU seconds the machine has spent not idle since boot, all CPUs together (user, nice,
    system, irq, softirq and steal: a VM's stolen time is time the benchmark did not get)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND


def others_share(busy_before, busy_after, wall_s, own_cpu_s):
    """Share of the machine (0..1) that other processes used during wall_s seconds."""
    if wall_s <= 0:
        return 0.0
    return min(1.0, max(0.0, (busy_after - busy_before - own_cpu_s) / (wall_s * CPUS)))


def wait_until_quiet(max_wait_s, threshold=0.15, sample_s=1.0):
    """Waits, up to max_wait_s, for a sample_s window in which the machine is less than
    threshold busy. Returns the seconds waited and the last busy share measured."""
    waited, share = 0.0, 0.0
    while True:
        before, start = busy_seconds(), time.monotonic()
        time.sleep(sample_s)
        wall = time.monotonic() - start
        share = others_share(before, busy_seconds(), wall, 0.0)
        waited += wall
        if share < threshold or waited >= max_wait_s:
            return waited, share
