// Command mdlayher is a minimal daemon that sends READY=1 with
// github.com/mdlayher/sdnotify.
package main

import "github.com/mdlayher/sdnotify"

func main() {
	n, err := sdnotify.New()
	if err != nil {
		return
	}
	n.Notify(sdnotify.Ready)
	n.Close()
}
