/* peak_rss: run a command and report its own peak resident memory.
 *
 *   peak_rss COMMAND [ARG...]
 *
 * The command inherits stdin, stdout and stderr; after it ends, peak_rss prints one more line on
 * stdout, {"peak_rss_kb":N,"cpu_s":C,"exit_status":S}: the command's ru_maxrss and its user +
 * system CPU time, from wait4. It exits with the command's exit code (128 + signal if killed).
 * The CPU time lets the driver tell how much of the machine other processes used meanwhile.
 *
 * Why a launcher at all: Linux folds the memory of the process that calls exec into the new
 * program's ru_maxrss (exec_mmap keeps the old mm's high-water mark), so a benchmark child
 * started straight from the Python driver reports at least the driver's own peak — 130 MB and
 * more once it has parsed an ONNX model, the same for every child, hiding the figure wanted.
 * Started from this small process, a child's ru_maxrss carries at most this process's ~1 MB. */
/* wait4 (the call that gives one child's rusage) is BSD, not POSIX: glibc declares it only with
 * _DEFAULT_SOURCE, which strict C11 with _POSIX_C_SOURCE leaves off. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: peak_rss COMMAND [ARG...]\n");
        return 2;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        perror("peak_rss: fork");
        return 2;
    }
    if (pid == 0) {
        execvp(argv[1], argv + 1);
        perror("peak_rss: exec");
        _exit(127);
    }
    int status = 0;
    struct rusage usage;
    if (wait4(pid, &status, 0, &usage) < 0) {
        perror("peak_rss: wait4");
        return 2;
    }
    int code = WIFEXITED(status) ? WEXITSTATUS(status)
               : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 2;
    double cpu_s = (double)usage.ru_utime.tv_sec + (double)usage.ru_utime.tv_usec / 1e6 +
                   (double)usage.ru_stime.tv_sec + (double)usage.ru_stime.tv_usec / 1e6;
    /* Linux reports ru_maxrss in kilobytes. */
    printf("{\"peak_rss_kb\":%ld,\"cpu_s\":%.4f,\"exit_status\":%d}\n", usage.ru_maxrss, cpu_s,
           code);
    return code;
}
