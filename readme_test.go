package sdnotify_test

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestREADME keeps the README honest: its quickstart is the example that
// the build compiles, and CI runs the test command it gives.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	quickstart, err := os.ReadFile("examples/quickstart/main.go")
	if err != nil {
		t.Fatal(err)
	}
	code := string(quickstart)
	code = code[strings.Index(code, "package main"):] // without the doc comment
	if !strings.Contains(string(readme), "```go\n"+code+"```") {
		t.Error("README's quickstart differs from examples/quickstart/main.go (less its doc comment)")
	}

	m := regexp.MustCompile("The tests:\n\n```\n(.+)\n```").FindSubmatch(readme)
	if m == nil {
		t.Fatal("README gives no test command after \"The tests:\"")
	}
	ci, err := os.ReadFile(".ci/run")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(ci), "\n"+string(m[1])+"\n") {
		t.Errorf(".ci/run does not run the README's test command %q", m[1])
	}
}
