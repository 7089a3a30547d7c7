package main

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"start","Package":"github.com/gosdnotify/sdnotify/a"}`,
		`{"Action":"run","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestOne"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestOne","Output":"=== RUN   TestOne\n"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestOne","Output":"    a_test.go:12: needs root\n"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestOne","Output":"--- SKIP: TestOne (0.00s)\n"}`,
		`{"Action":"skip","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestOne"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestTwo/sub","Output":"    a_test.go:30: needs root\n"}`,
		`{"Action":"skip","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestTwo/sub"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestThree","Output":"    a_test.go:40: SDNOTIFY_REAL_SYSTEMD=1 not set\n"}`,
		`{"Action":"skip","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestThree"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestOk","Output":"    a_test.go:50: a log line\n"}`,
		`{"Action":"pass","Package":"github.com/gosdnotify/sdnotify/a","Test":"TestOk"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Output":"PASS\n"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/a","Output":"ok  \tgithub.com/gosdnotify/sdnotify/a\t0.1s\n"}`,
		`{"Action":"pass","Package":"github.com/gosdnotify/sdnotify/a"}`,
		`{"Action":"output","Package":"github.com/gosdnotify/sdnotify/b","Output":"?   \tgithub.com/gosdnotify/sdnotify/b\t[no test files]\n"}`,
		`{"Action":"skip","Package":"github.com/gosdnotify/sdnotify/b"}`,
	}, "\n")
	var out strings.Builder
	if code := summarize(strings.NewReader(in), &out); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	got := out.String()
	for _, want := range []string{
		"ok  \tgithub.com/gosdnotify/sdnotify/a\t0.1s\n",
		"?   \tgithub.com/gosdnotify/sdnotify/b\t[no test files]\n",
		"3 test(s) skipped, for 2 reason(s):\n    2  needs root\n       (a.TestOne, a.TestTwo/sub)\n    1  SDNOTIFY_REAL_SYSTEMD=1 not set\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "a log line") || strings.Contains(got, "PASS") {
		t.Errorf("a passing test's output is shown:\n%s", got)
	}
}

func TestSummarizeFailure(t *testing.T) {
	in := strings.Join([]string{
		`{"Action":"output","Package":"p","Test":"TestBad","Output":"    p_test.go:3: boom\n"}`,
		`{"Action":"output","Package":"p","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}`,
		`{"Action":"fail","Package":"p","Test":"TestBad"}`,
		`{"Action":"output","Package":"p","Output":"FAIL\tp\t0.1s\n"}`,
		`{"Action":"fail","Package":"p"}`,
	}, "\n")
	var out strings.Builder
	if code := summarize(strings.NewReader(in), &out); code != 1 {
		t.Errorf("exit %d, want 1", code)
	}
	if got := out.String(); !strings.Contains(got, "p_test.go:3: boom\n--- FAIL: TestBad") || !strings.Contains(got, "FAIL\tp\t0.1s") || !strings.Contains(got, "no test skipped") {
		t.Errorf("output:\n%s", got)
	}
	if code := summarize(strings.NewReader(`{"ImportPath":"p","Action":"build-output","Output":"p.go:1: syntax error\n"}`+"\n"+`{"ImportPath":"p","Action":"build-fail"}`), &out); code != 1 {
		t.Errorf("a build failure: exit %d, want 1", code)
	}
	if code := summarize(strings.NewReader(""), &out); code != 1 {
		t.Errorf("no input: exit %d, want 1", code)
	}
}
