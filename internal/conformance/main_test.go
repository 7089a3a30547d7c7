//go:build linux

package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gosdnotify/sdnotify"
)

// goPeerEnv, set to "1" in the environment of the test binary, makes it
// the Go peer: this module run as a child process, exactly like the other
// peers, so that its credentials and its use of NOTIFY_SOCKET compare
// with theirs.
const goPeerEnv = "SDNOTIFY_CONFORMANCE_GO_PEER"

func TestMain(m *testing.M) {
	if os.Getenv(goPeerEnv) == "1" {
		os.Exit(goPeer(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// goPeer performs one action with this module, as testdata/peer.c does
// with libsystemd, taking the same arguments and printing the same
// results: "r=N" with N = 1 when sent, 0 when the Notifier is disabled
// (NOTIFY_SOCKET unset), -errno on failure (-ETIMEDOUT for a barrier whose
// context ended), as libsystemd returns them, or "invalid" for a
// notification refused before sending (sdnotify.ErrInvalid). The error
// itself goes to stderr.
func goPeer(args []string) int {
	if len(args) == 0 {
		return usage(args)
	}
	op, args := args[0], args[1:]
	switch {
	case op == "notify" && len(args) == 1:
		n := sdnotify.New()
		fmt.Printf("r=%s\n", result(n, n.Notify(args[0])))
	case op == "notify-unset" && len(args) == 1:
		n := sdnotify.NewUnsetenv()
		r := result(n, n.Notify(args[0]))
		env := "unset"
		if _, ok := os.LookupEnv("NOTIFY_SOCKET"); ok {
			env = "set"
		}
		fmt.Printf("r=%s env=%s\n", r, env)
	case op == "notifyf" && len(args) == 2:
		num, err := strconv.Atoi(args[1])
		if err != nil {
			return usage(args)
		}
		n := sdnotify.New()
		fmt.Printf("r=%s\n", result(n, n.Send(sdnotify.Statusf("%s %d", args[0], num))))
	case op == "pid-notify" && len(args) == 2:
		pid, err := strconv.Atoi(args[0])
		if err != nil {
			return usage(args)
		}
		as, err := assignments(args[1])
		if err != nil {
			return usage(args)
		}
		n := sdnotify.New()
		fmt.Printf("r=%s\n", result(n, n.SendContext(context.Background(), append(as, sdnotify.Sender(pid))...)))
	case op == "fds" && len(args) == 2:
		f, err := os.Open(args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		defer f.Close()
		n := sdnotify.New()
		// The idiomatic call for "FDSTORE=1\nFDNAME=name"; any other
		// state goes line by line, the file riding on its FDSTORE=1 or
		// MAINPIDFD=1 line, the only ones that carry files.
		if name, ok := strings.CutPrefix(args[0], "FDSTORE=1\nFDNAME="); ok && !strings.Contains(name, "\n") {
			fmt.Printf("r=%s\n", result(n, n.Send(sdnotify.FDStore(name, f))))
			break
		}
		as, err := assignments(args[0])
		if err != nil {
			return usage(args)
		}
		carried := false
		for i, line := range strings.Split(args[0], "\n") {
			switch {
			case carried:
			case line == "FDSTORE=1":
				as[i], carried = sdnotify.FDStore("", f), true
			case line == "MAINPIDFD=1":
				as[i], carried = sdnotify.MainPIDFD(f), true
			}
		}
		if !carried {
			fmt.Fprintln(os.Stderr, "go peer: this module passes files only with FDSTORE=1 or MAINPIDFD=1")
			return usage(args)
		}
		fmt.Printf("r=%s\n", result(n, n.Send(as...)))
	case op == "barrier" && len(args) == 1:
		d, err := usec(args[0])
		if err != nil {
			return usage(args)
		}
		n := sdnotify.New()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		fmt.Printf("r=%s\n", result(n, n.Barrier(ctx)))
	case op == "notify-barrier" && len(args) == 2:
		d, err := usec(args[1])
		if err != nil {
			return usage(args)
		}
		n := sdnotify.New()
		r := result(n, n.Notify(args[0]))
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		fmt.Printf("r=%s barrier=%s\n", r, result(n, n.Barrier(ctx)))
	case op == "notify2" && len(args) == 2:
		n := sdnotify.New()
		fmt.Printf("r=%s\n", result(n, n.Notify(args[0])))
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			fmt.Fprintln(os.Stderr, "go peer: no line on stdin:", err)
			return 2
		}
		fmt.Printf("r=%s\n", result(n, n.Notify(args[1])))
	default:
		return usage(append([]string{op}, args...))
	}
	return 0
}

func usage(args []string) int {
	fmt.Fprintf(os.Stderr, "go peer: bad arguments %q (see testdata/peer.c)\n", args)
	return 2
}

func usec(s string) (time.Duration, error) {
	u, err := strconv.ParseUint(s, 10, 32)
	return time.Duration(u) * time.Microsecond, err
}

// assignments turns a state into the module's Var assignments, line by line.
func assignments(state string) ([]sdnotify.Assignment, error) {
	var as []sdnotify.Assignment
	for _, line := range strings.Split(state, "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not KEY=VALUE", line)
		}
		as = append(as, sdnotify.Var(k, v))
	}
	return as, nil
}

// result is what libsystemd would return for err.
func result(n *sdnotify.Notifier, err error) string {
	if err == nil {
		if n.Enabled() {
			return "1"
		}
		return "0"
	}
	fmt.Fprintln(os.Stderr, err)
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return strconv.Itoa(-int(errno))
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return strconv.Itoa(-int(syscall.ETIMEDOUT))
	case errors.Is(err, sdnotify.ErrInvalid):
		return "invalid" // refused before sending: libsystemd has no such case
	}
	return "error"
}
