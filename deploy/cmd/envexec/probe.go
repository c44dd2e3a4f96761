package main

import (
	"fmt"
	"net/http"
	"os"
	"time"
)

// probe is a compose healthcheck for images without curl: GET url, 2xx is healthy.
func probe(url string, timeout time.Duration) int {
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(url)
	if err != nil {
		fmt.Fprintf(os.Stderr, "envexec: probe: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(os.Stderr, "envexec: probe %s: %s\n", url, resp.Status)
		return 1
	}
	return 0
}
