package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// tcpListen is the state of a listening socket in /proc/net/tcp (TCP_LISTEN).
const tcpListen = "0A"

// findHolder finds the process listening on TCP port: the socket's inode from
// /proc/net/tcp and tcp6, then the process that has "socket:[inode]" open among
// /proc/<pid>/fd. Another user's process is found as a socket without a pid.
func findHolder(port int) (holder, error) {
	inodes := map[uint64]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(f, port, inodes); err != nil && !errors.Is(err, os.ErrNotExist) {
			return holder{}, err
		}
	}
	if len(inodes) == 0 {
		return holder{}, fmt.Errorf("no listening socket on port %d in /proc/net/tcp{,6}", port)
	}
	var first uint64
	for ino := range inodes {
		first = ino
	}
	procs, err := filepath.Glob("/proc/[0-9]*/fd")
	if err != nil {
		return holder{}, err
	}
	for _, fdDir := range procs {
		fds, err := os.ReadDir(fdDir) // another user's: permission denied, skipped
		if err != nil {
			continue
		}
		for _, fd := range fds {
			link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
			if err != nil || !strings.HasPrefix(link, "socket:[") {
				continue
			}
			ino, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]"), 10, 64)
			if err != nil || !inodes[ino] {
				continue
			}
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(fdDir)))
			return holder{pid: pid, command: commandLine(pid), inode: ino}, nil
		}
	}
	return holder{inode: first}, nil
}

// listeningInodes adds the inodes of sockets listening on port in a /proc/net/tcp
// file: "sl local_address rem_address st ... uid timeout inode", the address as
// hex IP:hex port.
func listeningInodes(file string, port int, into map[uint64]bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // the header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != tcpListen {
			continue
		}
		_, hexPort, ok := strings.Cut(fields[1], ":")
		if p, err := strconv.ParseUint(hexPort, 16, 16); !ok || err != nil || int(p) != port {
			continue
		}
		if ino, err := strconv.ParseUint(fields[9], 10, 64); err == nil && ino != 0 {
			into[ino] = true
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read %s: %w", file, err)
	}
	return nil
}

// commandLine is the process's command line, arguments joined by spaces, cut short.
func commandLine(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return "(command unknown)"
	}
	s := strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
