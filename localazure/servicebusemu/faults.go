package servicebusemu

import "time"

// DropConnections ends every client connection at once, without an AMQP close,
// as a network failure or a Service Bus gateway restart does: the SDKs must notice,
// reconnect and recover their links. It returns how many sockets it closed.
func (b *Broker) DropConnections() int {
	b.mu.Lock()
	socks := make([]interface{ Close() error }, 0, len(b.sockets))
	for nc := range b.sockets {
		socks = append(socks, nc)
	}
	b.mu.Unlock()
	for _, nc := range socks {
		_ = nc.Close()
	}
	return len(socks)
}

// ExpireLocks makes every message lock held now expire, as when processing
// outlasts the lock duration: the next sweep returns the messages (delivery count
// + 1, dead-lettered past MaxDeliveryCount), and a settlement with the old lock
// token fails with MessageLockLost. It returns how many locks it expired.
func (b *Broker) ExpireLocks() int {
	n := 0
	past := time.Now().Add(-time.Second)
	for _, s := range b.stores {
		s.mu.Lock()
		for _, m := range s.locks {
			m.lockedUntil = past
			n++
		}
		s.mu.Unlock()
	}
	return n
}
