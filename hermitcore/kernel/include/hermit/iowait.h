/* Waiting for I/O: one event counter for everything that can make a
 * descriptor or a device request ready. A waiter reads io_seq() under the
 * lock that guards its condition, checks the condition, drops the lock, then
 * io_wait(seq): it returns at once if an io_notify() came in between, else
 * sleeps until the next one (or the deadline). io_notify() wakes every
 * waiter to re-check -- cheap with the handful of threads a unikernel runs.
 * Safe from interrupt handlers (io_notify) and with the big kernel lock held
 * (io_wait drops it while asleep, as any block does). */
#pragma once
#include <stdint.h>

uint64_t io_seq(void);
int io_wait(uint64_t seq, uint64_t deadline); /* 0, or -ETIMEDOUT (deadline 0: none) */
/* The same for waits a signal ends (the program's blocking calls): -EINTR
 * when the thread has a signal to take (struct thread.sig_wakeup). */
int io_wait_intr(uint64_t seq, uint64_t deadline);
void io_notify(void);
