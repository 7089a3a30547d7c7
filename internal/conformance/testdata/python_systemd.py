"""Performs one action with systemd.daemon.notify (Debian's python3-systemd,
which wraps libsystemd's sd_pid_notify_with_fds), for the conformance tests.
Run with the system python: /usr/bin/python3 -I.

Each call prints "r=R": R is what notify returned (True or False), or
"errno:N" for the OSError it raised.

    python_systemd.py notify STATE
    python_systemd.py notify-unset STATE   notify(STATE, unset_environment=True),
                                           then " env=set|unset": NOTIFY_SOCKET
                                           in the C environment afterwards
    python_systemd.py pid-notify PID STATE notify(STATE, pid=PID)
    python_systemd.py fds STATE FILE       notify(STATE, fds=[fd of FILE])
    python_systemd.py notify2 S1 S2        notify(S1), read a line from stdin,
                                           notify(S2)
"""
import ctypes
import sys

from systemd import daemon


def call(state, **kw):
    try:
        return "r=%s" % daemon.notify(state, **kw)
    except OSError as e:
        return "r=errno:%d" % e.errno


def main(argv):
    op, args = (argv[0], argv[1:]) if argv else ("", [])
    if op == "notify" and len(args) == 1:
        print(call(args[0]))
    elif op == "notify-unset" and len(args) == 1:
        r = call(args[0], unset_environment=True)
        # os.environ is a copy taken at startup: ask the C library.
        libc = ctypes.CDLL(None)
        libc.getenv.restype = ctypes.c_char_p
        env = "set" if libc.getenv(b"NOTIFY_SOCKET") is not None else "unset"
        print("%s env=%s" % (r, env))
    elif op == "pid-notify" and len(args) == 2:
        print(call(args[1], pid=int(args[0])))
    elif op == "fds" and len(args) == 2:
        with open(args[1], "rb") as f:
            print(call(args[0], fds=[f.fileno()]))
    elif op == "notify2" and len(args) == 2:
        print(call(args[0]), flush=True)
        if not sys.stdin.readline():
            sys.exit("python_systemd.py: no line on stdin")
        print(call(args[1]))
    else:
        sys.exit("python_systemd.py: bad arguments: %r" % (argv,))


main(sys.argv[1:])
