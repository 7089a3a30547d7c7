// Command slogtext is a minimal daemon that logs one record with log/slog
// and slog.NewTextHandler on standard error: the baseline of the journal
// handlers' binary sizes.
package main

import (
	"log/slog"
	"os"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	slog.Info("ready", "user", "ann", "id", 42)
}
