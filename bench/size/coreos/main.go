// Command coreos is a minimal daemon that sends READY=1 with
// github.com/coreos/go-systemd/v22/daemon.
package main

import "github.com/coreos/go-systemd/v22/daemon"

func main() {
	daemon.SdNotify(false, daemon.SdNotifyReady)
}
