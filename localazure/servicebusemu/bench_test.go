package servicebusemu

// Benchmarks run the broker in a child process (this test binary re-executed),
// so that its CPU time and memory can be read from /proc apart from the
// client's: the azservicebus client costs more CPU per message than the broker,
// and in one process the two cannot be told apart. Each benchmark reports
// msgs/s, the p99 latency of one operation (a send until accepted, or a
// receive+complete until the complete is acknowledged), the broker's CPU per
// message and the broker's resident memory.

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/messaging/azservicebus"
)

const childEnv = "LOCALAZURE_SB_BENCH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		runChild()
		return
	}
	os.Exit(m.Run())
}

// runChild serves a broker on loopback, prints its address, and exits when
// stdin closes.
func runChild() {
	// LOCALAZURE_SB_CHILD_DATADIR measures the durable broker (every
	// acknowledgement waits for the group commit's fsync); unset, the default.
	b, err := New(Options{Entities: testEntities(), DataDir: os.Getenv("LOCALAZURE_SB_CHILD_DATADIR")})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go b.Serve(ln)
	runtime.GC()
	debug.FreeOSMemory()
	if path := os.Getenv("LOCALAZURE_SB_CHILD_CPUPROFILE"); path != "" {
		// For looking into the broker's own cost: go tool pprof <path>.
		if f, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	fmt.Println(ln.Addr().String())
	io.Copy(io.Discard, os.Stdin)
	b.Close()
}

type child struct {
	addr  string
	pid   int
	stdin io.WriteCloser
	cmd   *exec.Cmd
}

func startChild(b *testing.B) *child {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=1", "GOGC=200")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.HasPrefix(line, "error") {
		b.Fatalf("child broker: %q %v", line, err)
	}
	c := &child{addr: strings.TrimSpace(line), pid: cmd.Process.Pid, stdin: stdin, cmd: cmd}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	return c
}

// cpu returns the child's user+system CPU time.
func (c *child) cpu() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(fields[11], 10, 64)
	st, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ is 100 on Linux
}

// rssMiB returns the child's resident set size.
func (c *child) rssMiB() float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(l)[1], 64)
			return kb / 1024
		}
	}
	return 0
}

func (c *child) client(b *testing.B) *azservicebus.Client {
	cl, err := azservicebus.NewClientFromConnectionString(fmt.Sprintf(
		"Endpoint=sb://%s;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=%s;UseDevelopmentEmulator=true", c.addr, EmulatorKey), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close(context.Background()) })
	return cl
}

// latencies collects per-operation latencies from several goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d ...time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d...)
	l.mu.Unlock()
}

func (l *latencies) p99() time.Duration {
	if len(l.d) == 0 {
		return 0
	}
	slices.Sort(l.d)
	return l.d[len(l.d)*99/100]
}

func report(b *testing.B, c *child, n int, elapsed, cpu0 time.Duration, lat *latencies) {
	b.ReportMetric(float64(n)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(lat.p99().Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64((c.cpu()-cpu0).Microseconds())/float64(n), "broker-µs/msg")
	b.ReportMetric(c.rssMiB(), "broker-RSS-MiB")
}

var payload = []byte(strings.Repeat("p", 100))

func BenchmarkSend(b *testing.B) {
	for _, senders := range []int{1, 16} {
		b.Run(fmt.Sprintf("senders=%d", senders), func(b *testing.B) {
			c := startChild(b)
			cl := c.client(b)
			ss := make([]*azservicebus.Sender, senders)
			for i := range ss {
				ss[i], _ = cl.NewSender("bench", nil)
				if err := ss[i].SendMessage(context.Background(), &azservicebus.Message{Body: payload}, nil); err != nil {
					b.Fatal(err) // warm up links and tokens
				}
			}
			lat := &latencies{}
			cpu0 := c.cpu()
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			per := (b.N + senders - 1) / senders
			for _, s := range ss {
				wg.Add(1)
				go func() {
					defer wg.Done()
					local := make([]time.Duration, 0, per)
					for range per {
						t0 := time.Now()
						if err := s.SendMessage(context.Background(), &azservicebus.Message{Body: payload}, nil); err != nil {
							b.Error(err)
							return
						}
						local = append(local, time.Since(t0))
					}
					lat.add(local...)
				}()
			}
			wg.Wait()
			b.StopTimer()
			report(b, c, per*senders, time.Since(start), cpu0, lat)
		})
	}
}

func BenchmarkSendBatch(b *testing.B) {
	const size = 100
	c := startChild(b)
	cl := c.client(b)
	s, _ := cl.NewSender("bench", nil)
	ctx := context.Background()
	if err := s.SendMessage(ctx, &azservicebus.Message{Body: payload}, nil); err != nil {
		b.Fatal(err)
	}
	lat := &latencies{}
	cpu0 := c.cpu()
	b.ResetTimer()
	start := time.Now()
	sent := 0
	for sent < b.N {
		batch, err := s.NewMessageBatch(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for range size {
			if err := batch.AddMessage(&azservicebus.Message{Body: payload}, nil); err != nil {
				b.Fatal(err)
			}
		}
		t0 := time.Now()
		if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
			b.Fatal(err)
		}
		lat.add(time.Since(t0))
		sent += size
	}
	b.StopTimer()
	report(b, c, sent, time.Since(start), cpu0, lat)
}

func BenchmarkReceiveComplete(b *testing.B) {
	for _, receivers := range []int{1, 8} {
		b.Run(fmt.Sprintf("receivers=%d", receivers), func(b *testing.B) {
			c := startChild(b)
			cl := c.client(b)
			ctx := context.Background()
			// Fill the queue with batches first (not timed).
			s, _ := cl.NewSender("bench-recv", nil)
			n := max(b.N, receivers)
			for left := n; left > 0; {
				batch, _ := s.NewMessageBatch(ctx, nil)
				k := min(left, 500)
				for range k {
					batch.AddMessage(&azservicebus.Message{Body: payload}, nil)
				}
				if err := s.SendMessageBatch(ctx, batch, nil); err != nil {
					b.Fatal(err)
				}
				left -= k
			}
			rs := make([]*azservicebus.Receiver, receivers)
			for i := range rs {
				rs[i], _ = cl.NewReceiverForQueue("bench-recv", nil)
			}
			lat := &latencies{}
			cpu0 := c.cpu()
			b.ResetTimer()
			start := time.Now()
			// Receivers run until n messages are completed; the run's context then
			// ends the receive calls still waiting.
			runCtx, stop := context.WithCancel(ctx)
			defer stop()
			var completed atomic.Int64
			var wg sync.WaitGroup
			for _, r := range rs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					local := []time.Duration{}
					defer func() { lat.add(local...) }()
					for runCtx.Err() == nil {
						t0 := time.Now()
						msgs, err := r.ReceiveMessages(runCtx, 50, nil)
						if err != nil {
							if runCtx.Err() == nil {
								b.Error(err)
							}
							return
						}
						var wg2 sync.WaitGroup
						done := make([]time.Duration, len(msgs))
						for i, m := range msgs {
							wg2.Add(1)
							go func() {
								defer wg2.Done()
								if err := r.CompleteMessage(ctx, m, nil); err != nil {
									b.Error(err)
								}
								done[i] = time.Since(t0)
							}()
						}
						wg2.Wait()
						local = append(local, done...)
						if completed.Add(int64(len(msgs))) >= int64(n) {
							stop()
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			report(b, c, n, time.Since(start), cpu0, lat)
		})
	}
}

// BenchmarkIdle reports the broker's resident memory with no clients.
func BenchmarkIdle(b *testing.B) {
	c := startChild(b)
	time.Sleep(200 * time.Millisecond)
	for range b.N {
	}
	b.ReportMetric(c.rssMiB(), "broker-idle-RSS-MiB")
}
