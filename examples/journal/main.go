// Command journal is the README's logging example: a daemon that logs
// with log/slog through package journal, natively to the journal under
// systemd and as readable text on a terminal.
package main

import (
	"errors"
	"log"
	"log/slog"
	"time"

	"github.com/gosdnotify/sdnotify"
	"github.com/gosdnotify/sdnotify/journal"
)

func main() {
	// Under systemd: structured entries in the journal. On a terminal: text.
	slog.SetDefault(slog.New(journal.NewHandler(&journal.HandlerOptions{AddSource: true})))

	n := sdnotify.New()
	defer n.Close()

	slog.Info("listening", "addr", ":8080", "workers", 4)
	n.Send(sdnotify.Ready())

	req := slog.Group("req", "method", "GET", "path", "/search")
	slog.Warn("slow request", req, "took", 1200*time.Millisecond)
	slog.Error("query failed", "err", errors.New("connection reset by peer"), "query", "SELECT *\nFROM items")
	log.Printf("the log package lands in the journal too")
}
