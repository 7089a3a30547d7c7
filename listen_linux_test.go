package sdnotify_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gosdnotify/sdnotify"
)

// listenReport is what the child of TestFiles saw.
type listenReport struct {
	Names      []string
	Same       bool     // a second call returned the same files
	Named      int      // files under "b"
	CloseExec  []bool   // FD_CLOEXEC on each
	EnvLeft    []string // LISTEN_ variables still set afterwards
	FDsBefore  int      // open descriptors before the first call
	FDsAfter   int
	Err        string
	ReadFromFD string // what the first file (a pipe) holds
}

// TestFilesChild runs in the child that TestFiles starts with files, as the
// manager starts a service: it reports what Files returned.
func TestFilesChild(t *testing.T) {
	if os.Getenv("SDNOTIFY_TEST_LISTEN_CHILD") == "" {
		t.Skip("runs only as TestFiles' child")
	}
	// The manager sets LISTEN_PID between fork and exec; os/exec cannot,
	// so the child fills in its own pid where the test asked for it.
	if os.Getenv("LISTEN_PID") == "self" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	if os.Getenv("LISTEN_PIDFDID") == "self" {
		os.Setenv("LISTEN_PIDFDID", strconv.FormatUint(sdnotify.OwnPidfdID(), 10))
	}
	var r listenReport
	r.FDsBefore = openFDs(t)
	files, err := sdnotify.Files()
	r.FDsAfter = openFDs(t)
	if err != nil {
		r.Err = err.Error()
	}
	again, err2 := sdnotify.Files()
	r.Same = len(again) == len(files) && (err2 == nil) == (err == nil)
	for i, f := range files {
		r.Names = append(r.Names, f.Name())
		r.Same = r.Same && again[i] == f
		flags, _ := unix.FcntlInt(f.Fd(), unix.F_GETFD, 0)
		r.CloseExec = append(r.CloseExec, flags&unix.FD_CLOEXEC != 0)
	}
	named, _ := sdnotify.FilesNamed("b")
	r.Named = len(named)
	if len(files) > 0 {
		b := make([]byte, 64)
		k, _ := files[0].Read(b)
		r.ReadFromFD = string(b[:k])
	}
	for _, k := range []string{"LISTEN_PID", "LISTEN_PIDFDID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
		if _, ok := os.LookupEnv(k); ok {
			r.EnvLeft = append(r.EnvLeft, k)
		}
	}
	json.NewEncoder(os.Stdout).Encode(r)
}

// TestFiles passes files to a child process as the manager does (from
// descriptor 3, with LISTEN_ variables) and checks what Files makes of
// them there.
func TestFiles(t *testing.T) {
	run := func(t *testing.T, env ...string) listenReport {
		t.Helper()
		r1, w1, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r1.Close()
		w1.WriteString("from the manager")
		w1.Close()
		r2, w2 := pipe(t)
		r3, w3 := pipe(t)
		cmd := exec.Command(os.Args[0], "-test.run=^TestFilesChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SDNOTIFY_TEST_LISTEN_CHILD=1")
		cmd.Env = append(cmd.Env, env...)
		cmd.ExtraFiles = []*os.File{r1, r2, w2, r3, w3} // descriptors 3 to 7
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		line, _, _ := strings.Cut(string(out), "\n")
		var r listenReport
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("child said %q: %v", out, err)
		}
		return r
	}
	t.Run("ours", func(t *testing.T) {
		r := run(t, "LISTEN_PID=self", "LISTEN_FDS=5", "LISTEN_FDNAMES=a:b:b:stored:stored")
		if r.Err != "" || strings.Join(r.Names, ":") != "a:b:b:stored:stored" || r.Named != 2 || !r.Same {
			t.Fatalf("%+v", r)
		}
		for i, ok := range r.CloseExec {
			if !ok {
				t.Errorf("file %d is not close-on-exec", i)
			}
		}
		if r.ReadFromFD != "from the manager" {
			t.Errorf("the first file reads %q", r.ReadFromFD)
		}
		if len(r.EnvLeft) != 0 {
			t.Errorf("still in the environment: %v", r.EnvLeft)
		}
		if r.FDsAfter != r.FDsBefore {
			t.Errorf("%d descriptors open before Files, %d after", r.FDsBefore, r.FDsAfter)
		}
	})
	t.Run("pidfd ID", func(t *testing.T) {
		if sdnotify.OwnPidfdID() == 0 {
			t.Skip("this kernel gives pidfds no inode ID (before Linux 6.9)")
		}
		r := run(t, "LISTEN_PID=self", "LISTEN_PIDFDID=self", "LISTEN_FDS=1")
		if r.Err != "" || len(r.Names) != 1 {
			t.Fatalf("%+v; want the file, LISTEN_PIDFDID being the child's", r)
		}
		// An ID that is not the child's: the files are for an earlier
		// process that had its pid.
		r = run(t, "LISTEN_PID=self", "LISTEN_PIDFDID=1", "LISTEN_FDS=1")
		if r.Err != "" || len(r.Names) != 0 || len(r.EnvLeft) != 0 {
			t.Fatalf("%+v; want no files, no error, the variables gone", r)
		}
	})
	t.Run("not ours", func(t *testing.T) {
		r := run(t, "LISTEN_PID=1", "LISTEN_FDS=1")
		if r.Err != "" || len(r.Names) != 0 || len(r.EnvLeft) != 0 {
			t.Fatalf("%+v; want no files, the variables gone", r)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		r := run(t, "LISTEN_PID=self", "LISTEN_FDS=2", "LISTEN_FDNAMES=a")
		if !strings.Contains(r.Err, `LISTEN_FDNAMES="a": 1 names for LISTEN_FDS=2 files`) || len(r.Names) != 0 || len(r.EnvLeft) != 0 || !r.Same {
			t.Fatalf("%+v; want the error, twice, and the variables gone", r)
		}
	})
	t.Run("descriptor not open", func(t *testing.T) {
		r := run(t, "LISTEN_PID=self", "LISTEN_FDS=40")
		if !strings.Contains(r.Err, "bad file descriptor") || len(r.Names) != 0 || r.FDsAfter != r.FDsBefore {
			t.Fatalf("%+v; want EBADF and no files", r)
		}
	})
}
