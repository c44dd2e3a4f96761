//go:build !linux

package main

import "errors"

// findHolder needs /proc to map a port to a process; elsewhere only the port is named.
func findHolder(int) (holder, error) {
	return holder{}, errors.New("finding its process needs Linux's /proc")
}
