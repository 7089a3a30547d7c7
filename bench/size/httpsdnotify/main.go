// Command httpsdnotify is httpempty that sends READY=1 with
// github.com/gosdnotify/sdnotify once it listens.
package main

import (
	"net"
	"net/http"

	"github.com/gosdnotify/sdnotify"
)

func main() {
	ln, err := net.Listen("tcp", "localhost:8080")
	if err != nil {
		return
	}
	n := sdnotify.New()
	n.Notify("READY=1")
	n.Close()
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
}
