// Go program for hermitcore's test suite (test_host_signals.py): a goroutine spins on a plain
// variable (no function calls, so no cooperative preemption point) until
// another goroutine sets it. With GOMAXPROCS=1 only asynchronous preemption
// (the runtime's SIGURG to the spinning thread, tgkill) lets the setter run.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

var flag int32

func spin() int {
	n := 0
	for flag == 0 {
		n++
	}
	return n
}

func main() {
	runtime.GOMAXPROCS(1)
	done := make(chan int)
	go func() { done <- spin() }()
	time.Sleep(10 * time.Millisecond) // the spinner takes the only P
	go func() { flag = 1 }()
	select {
	case <-done:
		fmt.Println("preempted: the spinning goroutine let the setter run")
	case <-time.After(20 * time.Second):
		fmt.Println("not preempted")
		os.Exit(1)
	}
	// SIGUSR1 through os/signal, handled by the runtime and delivered on a channel
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGUSR1)
	syscall.Kill(syscall.Getpid(), syscall.SIGUSR1)
	fmt.Println("got", <-ch)
	if len(os.Args) > 1 && os.Args[1] == "serve" {
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("serving")
		s := <-term
		fmt.Println("graceful shutdown on", s)
		os.Exit(0)
	}
}
