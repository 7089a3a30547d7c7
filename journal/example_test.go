package journal_test

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/gosdnotify/sdnotify/journal"
)

// A daemon sets the default logger once; where its standard error is the
// journal, each record becomes a structured entry.
func ExampleNewHandler() {
	slog.SetDefault(slog.New(journal.NewHandler(&journal.HandlerOptions{AddSource: true})))
	slog.Info("listening", "port", 8080)
}

// The lines a journal stream gets: journald reads the "<N>" prefix as the
// priority of the line.
func ExampleNewStreamHandler() {
	logger := slog.New(journal.NewStreamHandler(os.Stdout, nil))
	logger.Info("listening", "port", 8080, "addr", "[::]")
	logger.WithGroup("req").Warn("slow request", "path", "/search", "took", "1.2s")
	logger.Error("cannot open database", "err", errors.New("permission denied"))
	// Output:
	// <6>listening PORT=8080 ADDR=[::]
	// <4>slow request REQ_PATH=/search REQ_TOOK=1.2s
	// <3>cannot open database ERR="permission denied"
}

func ExampleFieldName() {
	for _, key := range []string{"user.id", "http-status", "2fa", "_PID", "MESSAGE_ID"} {
		fmt.Println(key, "->", journal.FieldName(key))
	}
	// Output:
	// user.id -> USER_ID
	// http-status -> HTTP_STATUS
	// 2fa -> X_2FA
	// _PID -> X__PID
	// MESSAGE_ID -> MESSAGE_ID
}
