// Command httpempty is a minimal net/http daemon that sends no
// notification: the baseline for httpsdnotify, the library's cost in a
// program that links package net anyway.
package main

import (
	"net"
	"net/http"
)

func main() {
	ln, err := net.Listen("tcp", "localhost:8080")
	if err != nil {
		return
	}
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
}
