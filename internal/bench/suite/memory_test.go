//go:build !race

package suite

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// memoryChildEnv names the implementation and size a child process
// measures ("ours:100"); memoryMark starts the line it prints its figures on.
const (
	memoryChildEnv = "BENCH_MEMORY_CHILD"
	memoryMark     = "BENCH_MEMORY "
)

// memoryFigures is what a child reports, per node.
type memoryFigures struct {
	HeapKB float64 `json:"heap_kb"`
	RSSKB  float64 `json:"rss_kb"`
}

// memory measures heap and RSS per node of a converged cluster of n in a
// child process of its own, so that neither implementation pays for what
// the other left behind.
func memory(t *testing.T, im impl, n int) []figure {
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", memoryChildEnv, im.name, n))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("%s: memory child N=%d: %v\n%s", im.name, n, err, out)
		return nil
	}
	for line := range strings.Lines(string(out)) {
		if rest, ok := strings.CutPrefix(line, memoryMark); ok {
			var m memoryFigures
			if err := json.Unmarshal([]byte(rest), &m); err != nil {
				t.Errorf("%s: memory child output %q: %v", im.name, line, err)
				return nil
			}
			return []figure{
				{scenario: "memory", metric: "heap per node", unit: "KB", value: m.HeapKB},
				{scenario: "memory", metric: "RSS per node (in-process)", unit: "KB", value: m.RSSKB},
			}
		}
	}
	t.Errorf("%s: memory child N=%d printed no figures:\n%s", im.name, n, out)
	return nil
}

// TestMemoryChild is the child side of memory; it does nothing unless
// memoryChildEnv is set. A first small cluster sets up what packages keep
// once used; the baseline is taken after it. Both readings follow a full
// collection and a return of free memory to the OS, so RSS counts what the
// nodes hold, not what the allocator keeps in reserve.
func TestMemoryChild(t *testing.T) {
	spec := os.Getenv(memoryChildEnv)
	if spec == "" {
		t.Skip("runs as a child of the memory scenario")
	}
	name, size, _ := strings.Cut(spec, ":")
	n, err := strconv.Atoi(size)
	if err != nil {
		t.Fatalf("%s=%q: %v", memoryChildEnv, spec, err)
	}
	var im impl
	for _, x := range impls {
		if x.name == name {
			im = x
		}
	}
	if im.start == nil {
		t.Fatalf("%s=%q: unknown implementation", memoryChildEnv, spec)
	}
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, im, 3, 1)
		c.joinAll()
		c.waitConverged(convergeLimit)
		c.close()
	})
	heap0, rss0 := settledMemory()
	var heap, rss uint64
	synctest.Test(t, func(t *testing.T) {
		c := newCluster(t, im, n, 1)
		defer c.close()
		c.joinAll()
		if _, ok := c.waitConverged(convergeLimit); !ok {
			t.Fatalf("%s N=%d did not converge", im.name, n)
		}
		time.Sleep(steadyWindow) // join broadcasts drain
		heap, rss = settledMemory()
	})
	per := func(now, base uint64) float64 { return float64(int64(now)-int64(base)) / float64(n) / 1024 }
	b, err := json.Marshal(memoryFigures{HeapKB: per(heap, heap0), RSSKB: per(rss, rss0)})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("%s%s\n", memoryMark, b)
}

// settledMemory returns the live heap and the resident set size, in bytes,
// after a collection that returns free memory to the OS.
func settledMemory() (heap, rss uint64) {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc, residentBytes()
}

// residentBytes reads VmRSS from /proc/self/status; 0 where there is none.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
