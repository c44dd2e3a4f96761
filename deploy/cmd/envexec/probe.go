package main

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// probe is a compose healthcheck for images without curl: GET url, 2xx is healthy;
// tcp://host:port is healthy once the port accepts a connection.
func probe(target string, timeout time.Duration) int {
	if err := probeOnce(target, timeout); err != nil {
		fmt.Fprintf(os.Stderr, "envexec: probe: %v\n", err)
		return 1
	}
	return 0
}

func probeOnce(target string, timeout time.Duration) error {
	if err := checkTarget(target); err != nil {
		return err
	}
	if addr, ok := strings.CutPrefix(target, "tcp://"); ok {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return err
		}
		return c.Close()
	}
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get(target)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%s: %s", target, resp.Status)
	}
	return nil
}

func checkTarget(target string) error {
	if addr, ok := strings.CutPrefix(target, "tcp://"); ok {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%q: %w", target, err)
		}
		return nil
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is neither an http(s) URL nor tcp://host:port", target)
	}
	return nil
}

// await probes every target until each has answered once, or fails after limit.
// It is the readiness gate of the compose stack for images that ship no shell,
// curl or wget, so that their own healthcheck cannot run (the Service Bus
// emulator: github.com/Azure/azure-service-bus-emulator-installer issues; the
// testcontainers Service Bus module probes its :5300 health API from outside for the
// same reason). Run as a one-shot service that the others wait for with
// service_completed_successfully.
func await(targets []string, limit, every time.Duration) int {
	deadline := time.Now().Add(limit)
	pending := map[string]error{}
	for _, t := range targets {
		if err := checkTarget(t); err != nil {
			fmt.Fprintf(os.Stderr, "envexec: -await: %v\n", err)
			return 2
		}
		pending[t] = nil
	}
	began := time.Now()
	for {
		for _, t := range targets {
			if _, waiting := pending[t]; !waiting {
				continue
			}
			if err := probeOnce(t, every); err != nil {
				pending[t] = err
				continue
			}
			delete(pending, t)
			fmt.Fprintf(os.Stderr, "envexec: %s ready after %s\n", t, time.Since(began).Round(time.Second))
		}
		if len(pending) == 0 {
			return 0
		}
		if time.Now().After(deadline) {
			for t, err := range pending {
				fmt.Fprintf(os.Stderr, "envexec: %s not ready after %s: %v\n", t, limit, err)
			}
			return 1
		}
		time.Sleep(every)
	}
}
