package cosmosemu

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// journal is the write-ahead log of item changes in DataDir. A write is applied in
// memory and its record appended to the journal under the partition's lock (so the
// journal's order is the order in which writers saw each item); the handler then
// waits for the record's fsync before it answers. One goroutine writes and syncs
// whatever has queued up meanwhile: concurrent writers share an fsync (group
// commit) and none waits more than one fsync behind its own record.
//
// Files are journal-<gen>.log; a checkpoint (persist.go) starts a new generation,
// writes the whole account to cosmos.json naming that generation, and deletes the
// older files. Each record is a 4-byte length, a 4-byte CRC-32C and a JSON body; a
// torn record at the end (a crash during the write) ends the replay, which is safe
// because nothing in it was acknowledged.
type journal struct {
	dir string

	mu      sync.Mutex
	synced  *sync.Cond // signalled when durable advances or err is set
	pending []byte     // framed records not yet written
	queued  uint64     // number of records appended so far
	durable uint64     // number of records on disk and synced
	err     error      // sticky: a failed write or sync fails every later wait
	closed  bool
	kick    chan struct{}
	done    chan struct{}

	fileMu sync.Mutex // held while writing to f and while switching files
	f      *os.File
	gen    uint64
	size   int64  // bytes in the current file, read by the checkpoint policy
	syncs  uint64 // fsyncs so far (tests check that writers share them)
	sync   func(*os.File) error
}

// journalRecord is one atomic change to one container: one op, or a whole
// transactional batch.
type journalRecord struct {
	DB      string      `json:"db"`
	Coll    uint32      `json:"coll"` // the container's number: a recreated container is another one
	LSN     uint64      `json:"lsn"`  // the container's sequence number after the change
	NextDoc uint64      `json:"next"`
	Ops     []journalOp `json:"ops"`
}

type journalOp struct {
	Put *journalPut `json:"put,omitempty"`
	Del *journalDel `json:"del,omitempty"`
}

type journalPut struct {
	Seq uint64          `json:"seq"`
	LSN uint64          `json:"lsn"`
	Doc json.RawMessage `json:"doc"`
}

type journalDel struct {
	PK string `json:"pk"`
	ID string `json:"id"`
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func journalName(gen uint64) string { return fmt.Sprintf("journal-%020d.log", gen) }

// openJournal starts generation gen in dir and the goroutine that syncs it.
func openJournal(dir string, gen uint64) (*journal, error) {
	j := &journal{dir: dir, gen: gen, kick: make(chan struct{}, 1), done: make(chan struct{}), sync: (*os.File).Sync}
	j.synced = sync.NewCond(&j.mu)
	f, err := createSynced(filepath.Join(dir, journalName(gen)))
	if err != nil {
		return nil, err
	}
	j.f = f
	go j.run()
	return j, nil
}

// createSynced creates a file and syncs its directory, so that the file itself
// survives a crash, not only its contents.
func createSynced(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cosmos: create %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cosmos: open data dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) { // Windows cannot sync a directory
		return fmt.Errorf("cosmos: sync data dir %s: %w", dir, err)
	}
	return nil
}

// append queues a record and returns its ticket for wait. Call it while holding
// the lock that orders the change (the partition's).
func (j *journal) append(rec *journalRecord) uint64 {
	body, err := json.Marshal(rec)
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil && j.err == nil {
		j.err = fmt.Errorf("cosmos: encode journal record: %w", err)
	}
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], uint32(len(body)))
	binary.LittleEndian.PutUint32(hdr[4:], crc32.Checksum(body, crcTable))
	j.pending = append(j.pending, hdr[:]...)
	j.pending = append(j.pending, body...)
	j.queued++
	if !j.closed { // close closes kick; a late write then fails in wait
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	return j.queued
}

// wait blocks until the record with this ticket is durable.
func (j *journal) wait(ticket uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.durable < ticket && j.err == nil {
		j.synced.Wait()
	}
	if j.durable >= ticket {
		return nil
	}
	return j.err
}

func (j *journal) run() {
	defer close(j.done)
	for range j.kick {
		j.fileMu.Lock()
		err := j.flushLocked()
		j.fileMu.Unlock()
		if err != nil {
			return
		}
	}
}

// flushLocked writes and syncs everything queued so far; fileMu must be held.
func (j *journal) flushLocked() error {
	j.mu.Lock()
	buf, upto := j.pending, j.queued
	j.pending = nil
	err := j.err
	j.mu.Unlock()
	if err != nil || len(buf) == 0 {
		return err
	}
	if _, err = j.f.Write(buf); err == nil {
		err = j.sync(j.f)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err != nil {
		j.err = fmt.Errorf("cosmos: write journal %s: %w", j.f.Name(), err)
	} else {
		j.durable = upto
		j.size += int64(len(buf))
		j.syncs++
	}
	j.synced.Broadcast()
	return j.err
}

// rotate makes everything queued durable in the current file, then switches to a
// new generation and returns it. Records appended after rotate go to the new file.
func (j *journal) rotate() (uint64, error) {
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	if err := j.flushLocked(); err != nil {
		return 0, err
	}
	f, err := createSynced(filepath.Join(j.dir, journalName(j.gen+1)))
	if err != nil {
		return 0, err
	}
	old := j.f
	j.mu.Lock()
	j.f, j.gen, j.size = f, j.gen+1, 0
	gen := j.gen
	j.mu.Unlock()
	if err := old.Close(); err != nil {
		return 0, fmt.Errorf("cosmos: close journal: %w", err)
	}
	return gen, nil
}

// bytes is the size of the current generation's file.
func (j *journal) bytes() int64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.size
}

// close syncs what is queued and stops the sync goroutine.
func (j *journal) close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	close(j.kick)
	<-j.done
	j.fileMu.Lock()
	defer j.fileMu.Unlock()
	err := j.flushLocked()
	if cerr := j.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("cosmos: close journal: %w", cerr)
	}
	j.mu.Lock()
	if j.err == nil {
		j.err = errors.New("cosmos: the server is closed")
	}
	j.synced.Broadcast()
	j.mu.Unlock()
	return err
}

// journalGenerations lists the generations present in dir, oldest first.
func journalGenerations(dir string) ([]uint64, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cosmos: read data dir: %w", err)
	}
	var gens []uint64
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "journal-") || !strings.HasSuffix(name, ".log") {
			continue
		}
		g, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, "journal-"), ".log"), 10, 64)
		if err == nil {
			gens = append(gens, g)
		}
	}
	sort.Slice(gens, func(a, b int) bool { return gens[a] < gens[b] })
	return gens, nil
}

// readJournal calls apply for each intact record of one file, in order, and stops
// at the end or at the first torn or corrupt record (reported as torn).
func readJournal(path string, apply func(*journalRecord) error) (records int, torn bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, fmt.Errorf("cosmos: open journal: %w", err)
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 256<<10)
	var hdr [8]byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return records, err != io.EOF, nil
		}
		n := binary.LittleEndian.Uint32(hdr[:4])
		if n > 64<<20 {
			return records, true, nil
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return records, true, nil
		}
		if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(hdr[4:]) {
			return records, true, nil
		}
		var rec journalRecord
		if err := json.Unmarshal(body, &rec); err != nil {
			return records, true, nil
		}
		if err := apply(&rec); err != nil {
			return records, false, err
		}
		records++
	}
}
