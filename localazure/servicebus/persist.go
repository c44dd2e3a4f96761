package servicebus

// persister would keep messages across broker restarts in Options.DataDir.
type persister struct{}

func openPersister(b *Broker, dir string) (*persister, error) {
	b.log.Warn("servicebus: DataDir persistence is not implemented; messages are kept in memory only", "dir", dir)
	return nil, nil
}

func (p *persister) close() error { return nil }

func (b *Broker) persistEnqueue(s *store, m *message)    {}
func (b *Broker) persistRemove(s *store, m *message)     {}
func (b *Broker) persistDeadLetter(s *store, m *message) {}
