"""Performs one action with Python's sdnotify (Debian's python3-sdnotify),
for the conformance tests. Run with the system python: /usr/bin/python3 -I.

    python_sdnotify.py notify STATE
        SystemdNotifier().notify(STATE): prints "r=R connected=C", R being
        what notify returned and C whether the constructor connected. If it
        did not, it also prints " exc=E": what the constructor raised with
        debug=True, where it swallows it by default ("errno:N" for an
        OSError, else the exception's type).
    python_sdnotify.py notify2 STATE1 STATE2
        One SystemdNotifier: notify(STATE1), print as above, read a line from
        stdin, notify(STATE2), print again.
"""
import sys

import sdnotify


def describe(n, r):
    out = "r=%s connected=%s" % (r, n.socket is not None)
    if n.socket is None:
        try:
            sdnotify.SystemdNotifier(debug=True)
        except OSError as e:
            if e.errno is not None:
                out += " exc=errno:%d" % e.errno
            else:  # "AF_UNIX path too long", raised by Python itself
                out += " exc=%s" % type(e).__name__
        except Exception as e:  # what the library swallows, whatever it is
            out += " exc=%s" % type(e).__name__
    return out


def main(argv):
    if len(argv) == 2 and argv[0] == "notify":
        n = sdnotify.SystemdNotifier()
        print(describe(n, n.notify(argv[1])))
    elif len(argv) == 3 and argv[0] == "notify2":
        n = sdnotify.SystemdNotifier()
        print(describe(n, n.notify(argv[1])), flush=True)
        if not sys.stdin.readline():
            sys.exit("python_sdnotify.py: no line on stdin")
        print(describe(n, n.notify(argv[2])))
    else:
        sys.exit("python_sdnotify.py: bad arguments: %r" % (argv,))


main(sys.argv[1:])
