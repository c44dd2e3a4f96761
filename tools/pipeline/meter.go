package main

import "time"

// meter reads the CPU time of the processes of one variant, by name.
type meter struct {
	pids func() map[string][]int
}

func (m *meter) snapshot() map[string]time.Duration {
	out := map[string]time.Duration{}
	for name, pids := range m.pids() {
		for _, pid := range pids {
			if d, err := cpuTime(pid); err == nil {
				out[name] += d
			}
		}
	}
	return out
}

// since returns the CPU used by each process since before.
func (m *meter) since(before map[string]time.Duration) map[string]time.Duration {
	now := m.snapshot()
	for k, v := range before {
		now[k] -= v
	}
	return now
}
