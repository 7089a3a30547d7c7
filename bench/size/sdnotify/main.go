// Command sdnotify is a minimal daemon that sends READY=1 with
// github.com/gosdnotify/sdnotify.
package main

import "github.com/gosdnotify/sdnotify"

func main() {
	n := sdnotify.New()
	n.Notify("READY=1")
	n.Close()
}
