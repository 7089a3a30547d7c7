package journal_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADME keeps the README's logging example the one the build
// compiles.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../examples/journal/main.go")
	if err != nil {
		t.Fatal(err)
	}
	code := string(example)
	code = code[strings.Index(code, "package main"):] // without the doc comment
	if !strings.Contains(string(readme), "```go\n"+code+"```") {
		t.Error("README's logging example differs from examples/journal/main.go (less its doc comment)")
	}
}
