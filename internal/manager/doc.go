// Package manager is a model of what systemd's service manager does with
// a notification: whether it drops the datagram, which of its assignments
// it reads and which it ignores (and why, and whether it says so in its
// log), and, for a unit of a given type and state, what each assignment
// changes. It is the one place where this module decides what systemd
// would conclude; sdnotifytest (the fake manager for tests) and sdnotify
// run (the manager for a laptop) both ask it, and neither reads a
// datagram itself.
//
// It works in two steps, as the manager does:
//
//   - Decode looks at the datagram alone: its size, NUL bytes, the
//     manager's way of splitting it into lines (with backslash escapes),
//     BARRIER=1, and each line's key and value against what the given
//     systemd version knows and how its parsers read numbers. A line is
//     Read (the manager looks at it), Unused (accepted, nothing done: a
//     private X_ key, or one the manager only logs) or Ignored (a value
//     it cannot parse, a key it does not know, a repeated key of which
//     only the first counts).
//   - Unit.Notify applies a decoded datagram from a sender to a unit:
//     NotifyAccess= first, then MAINPID=, READY=1, RELOADING=1 and
//     STOPPING=1 by the version's precedence and the unit's state, then
//     STATUS=, NOTIFYACCESS=, ERRNO=, EXTEND_TIMEOUT_USEC=, WATCHDOG=,
//     WATCHDOG_USEC= and the fd store, in the manager's order. The
//     Verdict says what each line did (Acted, or NoEffect and why) and
//     lists the Changes for the caller to carry out (start a timer, store
//     files, signal a process).
//
// The rules are those of systemd 252 and 254 (src/core/service.c,
// manager.c), where they differ by version, and were checked against
// those managers running here (internal/realsystemd's model test).
// Versions up to 262 are known by the keys they added; their other
// changes are not modelled.
//
// The package does no I/O and keeps no clock: times come from the caller.
package manager
