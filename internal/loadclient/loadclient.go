// Package loadclient is the client of the zero-downtime tests: it makes
// HTTP requests back to back, each on a new connection, to a server that
// answers "hello from pid N", and counts what fails and which processes
// answered.
package loadclient

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Counts is what the client saw.
type Counts struct {
	Requests int
	Failures int
	Errors   []error        // the first few
	PIDs     map[string]int // requests answered, by the pid that answered
}

// PIDList returns the pids that answered, sorted.
func (c Counts) PIDList() []string {
	l := make([]string, 0, len(c.PIDs))
	for p := range c.PIDs {
		l = append(l, p)
	}
	slices.Sort(l)
	return l
}

// A Client makes requests until Stop.
type Client struct {
	hc   *http.Client
	url  string
	stop chan struct{}
	done chan struct{}

	mu sync.Mutex
	c  Counts
}

// New returns a client of url that dials with dial (nil: the default),
// each request bounded by 5 s.
func New(url string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *Client {
	return &Client{
		hc: &http.Client{
			Transport: &http.Transport{DisableKeepAlives: true, DialContext: dial},
			Timeout:   5 * time.Second,
		},
		url:  url,
		stop: make(chan struct{}),
		done: make(chan struct{}),
		c:    Counts{PIDs: map[string]int{}},
	}
}

// Get makes one request, and returns the pid that answered it.
func (cl *Client) Get(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cl.url, nil)
	if err != nil {
		return "", err
	}
	resp, err := cl.hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	pid, ok := strings.CutPrefix(strings.TrimSpace(line), "hello from pid ")
	if resp.StatusCode != http.StatusOK || !ok {
		return "", fmt.Errorf("answer %s: %q", resp.Status, line)
	}
	return pid, nil
}

// Start makes requests back to back, until Stop or until ctx ends.
func (cl *Client) Start(ctx context.Context) {
	go func() {
		defer close(cl.done)
		for {
			select {
			case <-cl.stop:
				return
			case <-ctx.Done():
				return
			default:
			}
			cl.add(cl.Get(ctx))
		}
	}()
}

func (cl *Client) add(pid string, err error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	cl.c.Requests++
	if err != nil {
		cl.c.Failures++
		if len(cl.c.Errors) < 5 {
			cl.c.Errors = append(cl.c.Errors, err)
		}
		return
	}
	cl.c.PIDs[pid]++
}

// Stop ends the requests, waits for the one under way, and returns the
// counts. It may be called more than once.
func (cl *Client) Stop() Counts {
	cl.mu.Lock()
	select {
	case <-cl.stop:
	default:
		close(cl.stop)
	}
	cl.mu.Unlock()
	<-cl.done
	cl.hc.CloseIdleConnections()
	cl.mu.Lock()
	defer cl.mu.Unlock()
	return cl.c
}
