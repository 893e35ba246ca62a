// Go program for hermitcore's test suite: goroutines on every CPU allocate
// while the collector runs (the first-touch page-fault race used to panic the
// guest in runtime.GC), then a map, a sort and formatted output. Built
// static with the distribution's go (CGO_ENABLED=0), GOARCH=arm64 for qemu-virt.
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
)

func main() {
	var wg sync.WaitGroup
	results := make([]int, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(id int) {
			defer wg.Done()
			total := 0
			for i := 0; i < 2000; i++ {
				s := make([]byte, 4096+i%8192)
				s[len(s)-1] = byte(i)
				total += int(s[len(s)-1])
				if i%500 == 0 {
					runtime.GC()
				}
			}
			results[id] = total
		}(g)
	}
	wg.Wait()
	m := map[string]int{}
	for _, w := range strings.Fields(strings.Repeat("the quick brown fox jumps over the lazy dog ", 1000)) {
		m[w]++
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("%s=%d ", k, m[k])
	}
	fmt.Println()
	fmt.Println("sums:", results)
	if len(os.Args) > 1 {
		os.Exit(3)
	}
}
