//go:build linux && race

package main

// raceEnabled says that the tests run with -race; the tool is then built
// with -race too.
const raceEnabled = true
