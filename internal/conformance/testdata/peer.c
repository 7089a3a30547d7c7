/*
 * peer: performs one sd_notify action with libsystemd's C API, for the
 * conformance tests. The test compiles it against the installed libsystemd:
 *
 *     cc -o peer peer.c $(pkg-config --cflags --libs libsystemd)
 *
 * Usage (one action per run; it prints what libsystemd returned as "r=N",
 * N being > 0 when sent, 0 when NOTIFY_SOCKET is unset, -errno on failure):
 *
 *     peer notify STATE            sd_notify(0, STATE)
 *     peer notify-unset STATE      sd_notify(1, STATE), then prints
 *                                  "env=..." for NOTIFY_SOCKET afterwards
 *     peer notifyf TEXT NUMBER     sd_notifyf(0, "STATUS=%s %d", TEXT, NUMBER)
 *     peer pid-notify PID STATE    sd_pid_notify(PID, 0, STATE)
 *     peer fds STATE FILE          sd_pid_notify_with_fds(0, 0, STATE, fd, 1)
 *                                  with FILE opened read-only
 *     peer barrier USEC            sd_notify_barrier(0, USEC)
 *     peer notify-barrier STATE USEC
 *                                  sd_notify(0, STATE), then
 *                                  sd_notify_barrier(0, USEC), as
 *                                  systemd-notify does; prints "r=N barrier=M"
 *     peer notify2 STATE1 STATE2   sd_notify(0, STATE1), prints "r=N", reads a
 *                                  line from stdin, then sd_notify(0, STATE2)
 *                                  and prints "r=N" again
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static int usage(void) {
        fprintf(stderr, "peer: bad arguments (see peer.c)\n");
        return 2;
}

int main(int argc, char **argv) {
        const char *action;
        int r;

        if (argc < 2)
                return usage();
        action = argv[1];

        if (strcmp(action, "notify") == 0 && argc == 3) {
                r = sd_notify(0, argv[2]);
        } else if (strcmp(action, "notify-unset") == 0 && argc == 3) {
                const char *e;
                r = sd_notify(1, argv[2]);
                e = getenv("NOTIFY_SOCKET");
                printf("r=%d env=%s\n", r, e ? "set" : "unset");
                return 0;
        } else if (strcmp(action, "notifyf") == 0 && argc == 4) {
                r = sd_notifyf(0, "STATUS=%s %d", argv[2], atoi(argv[3]));
        } else if (strcmp(action, "pid-notify") == 0 && argc == 4) {
                r = sd_pid_notify((pid_t) atol(argv[2]), 0, argv[3]);
        } else if (strcmp(action, "fds") == 0 && argc == 4) {
                int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        perror("peer: open");
                        return 2;
                }
                r = sd_pid_notify_with_fds(0, 0, argv[2], &fd, 1);
        } else if (strcmp(action, "barrier") == 0 && argc == 3) {
                r = sd_notify_barrier(0, strtoull(argv[2], NULL, 10));
        } else if (strcmp(action, "notify-barrier") == 0 && argc == 4) {
                int b;
                r = sd_notify(0, argv[2]);
                b = sd_notify_barrier(0, strtoull(argv[3], NULL, 10));
                printf("r=%d barrier=%d\n", r, b);
                return 0;
        } else if (strcmp(action, "notify2") == 0 && argc == 4) {
                char line[64];
                printf("r=%d\n", sd_notify(0, argv[2]));
                fflush(stdout);
                if (!fgets(line, sizeof line, stdin)) {
                        fprintf(stderr, "peer: no line on stdin\n");
                        return 2;
                }
                r = sd_notify(0, argv[3]);
        } else
                return usage();

        printf("r=%d\n", r);
        return 0;
}
