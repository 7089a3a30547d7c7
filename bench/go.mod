module github.com/gosdnotify/sdnotify/bench

go 1.26.0

replace github.com/gosdnotify/sdnotify => ../

require (
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/gosdnotify/sdnotify v0.0.0-00010101000000-000000000000
	github.com/mdlayher/sdnotify v1.0.0
	github.com/systemd/slog-journal v0.1.2
	golang.org/x/sys v0.49.0
)
