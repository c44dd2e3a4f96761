package servicebusemu

import (
	"runtime/debug"
	"time"
)

// memoryReturner gives the heap the broker no longer needs back to the operating
// system once the entities have drained. Go's scavenger returns freed memory only
// gradually, so a stand-in that held 100,000 messages kept its peak RSS (measured:
// 405 MiB after draining to empty) long after the last message left, on a laptop
// that also runs the app. A drop from many held messages to few frees at once,
// at most every minFreeInterval (FreeOSMemory stops the world for a GC).
type memoryReturner struct {
	peak     int       // most messages held since the last return
	lastFree time.Time // when memory was last returned
}

const (
	freeAfterPeak   = 10000 // held messages below which a drain is not worth a GC
	freeBelow       = 100   // the drain is over when fewer are held
	minFreeInterval = 30 * time.Second
)

// observe is called by the sweeper with the number of messages held now; it
// reports whether it returned memory.
func (r *memoryReturner) observe(held int, now time.Time, free func()) bool {
	r.peak = max(r.peak, held)
	if r.peak < freeAfterPeak || held >= freeBelow || now.Sub(r.lastFree) < minFreeInterval {
		return false
	}
	free()
	r.peak, r.lastFree = held, now
	return true
}

// returnMemory is the free function the broker uses.
func returnMemory() { debug.FreeOSMemory() }
