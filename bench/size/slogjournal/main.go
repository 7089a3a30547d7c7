//go:build unix

// Command slogjournal is slogtext with github.com/systemd/slog-journal's
// handler.
package main

import (
	"log/slog"

	slogjournal "github.com/systemd/slog-journal"
)

func main() {
	h, err := slogjournal.NewHandler(nil)
	if err != nil {
		return
	}
	slog.SetDefault(slog.New(h))
	slog.Info("ready", "user", "ann", "id", 42)
}
