// Command journal is slogtext with the library's journal.NewHandler, which
// logs to the journal natively when standard error is a journal stream and
// falls back to text otherwise.
package main

import (
	"log/slog"

	"github.com/gosdnotify/sdnotify/journal"
)

func main() {
	slog.SetDefault(slog.New(journal.NewHandler(nil)))
	slog.Info("ready", "user", "ann", "id", 42)
}
