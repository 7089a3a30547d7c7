// Package journal writes to systemd's journal with journald's native
// protocol, and is a log/slog handler for it: a record becomes one entry
// whose fields are the record's attributes, so that
// `journalctl USER_ID=42` finds it. It needs no cgo and no package net.
//
// # The API at a glance
//
//	slog.SetDefault(slog.New(journal.NewHandler(nil))) // the right handler for where stderr goes
//	slog.Info("started", "port", 8080)                 // MESSAGE=started PORT=8080 PRIORITY=6 ...
//	log.Printf("also here")                            // the log package goes the same way
//
//	journal.NewNativeHandler(opts)   // always the native protocol
//	journal.NewStreamHandler(w, opts) // "<6>message KEY=value" lines for a journal stream
//	journal.Send("text", journal.Warning, journal.Field{Name: "KEY", Value: "v"})
//	var e journal.Entry; e.Add("MESSAGE", "m"); conn.Send(&e) // build entries yourself
//	journal.IsJournalStream(os.Stderr) // is stderr the journal (JOURNAL_STREAM)?
//
// Package journaltest is a fake journald for tests.
//
// # How it behaves
//
// NewHandler looks once at where standard error goes. When it is the
// journal (systemd set JOURNAL_STREAM to its device and inode, as for a
// service with the default StandardError=journal) and journald's socket
// accepts a connection, records go natively. When it is the journal but
// the socket cannot be reached, records are written as lines with a
// "<N>" priority prefix, which journald reads as the line's priority.
// Otherwise (a terminal, a file, a container's log) it is a
// slog.TextHandler on standard error, for a person to read.
//
// Field names: journald keeps names of 1 to 64 of A-Z, 0-9 and '_', not
// starting with a digit or '_', and silently drops a field with any other
// name. Nothing here is dropped: names are mapped (FieldName): "user.id"
// becomes USER_ID, "2fa" X_2FA. Values are sent byte for byte: invalid
// UTF-8, NUL and newlines included (a value with a newline goes in the
// protocol's length-prefixed form); journalctl shows such values as
// "[N bytes blob data]" unless asked for -o export, json or verbose. A key
// may repeat: journald keeps every value.
//
// Limits: journald ignores a whole entry with more than 1024 fields, so an
// Entry puts the fields past the 1023rd, encoded, into one EXTRA_FIELDS
// field (journaltest's Entry.Extra decodes it). An entry too big for one
// datagram goes in a sealed memfd, or where memfd_create is missing in an
// unlinked file in /dev/shm, as libsystemd does; journald accepts entries
// up to 768 MiB from root and less from other users (32 MiB in recent
// versions). A send that fails for any reason (no journald, an entry over
// its limit, no room within Conn.SetTimeout) returns an error, and a
// Handler then writes the record to standard error as a line, so nothing
// is lost without a trace.
//
// A Conn keeps one socket, opened at the first send, reconnects once when
// journald went away, and is safe for concurrent use, as are Handlers. A
// send blocks while journald's queue is full, as a write to standard error
// would; Conn.SetTimeout bounds the wait.
//
// On systems other than Linux, sends fail with an error wrapping
// errors.ErrUnsupported, IsJournalStream is false, and NewHandler is a
// slog.TextHandler.
package journal
