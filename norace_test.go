//go:build !race

package sdnotify_test

const raceEnabled = false
