/* The sampling profiler (kernel/profile.c): hermit.profile=HZ. */
#pragma once
#include <stddef.h>
#include <stdint.h>

extern unsigned profile_hz;
/* This CPU starts sampling (once; trap.c calls it as the CPU returns to the program). */
void profile_arm(void);
/* The samples to the host (the blob "profile"), at the end of the run. */
void profile_flush(void);
/* The end of a system call (its handler, to name it): the samples that fell
 * due while it ran with interrupts off, taken now. */
void profile_syscall_done(uintptr_t handler);
/* Sampling is on and its buffer taken. */
int profile_active(void);
/* An executable file mapping of the program's (what names a shared
 * library's addresses on the host), into the buffer. */
void profile_mapping(uintptr_t start, uintptr_t end, uint64_t offset, const char *path);
/* What profile_flush calls first (the Linux layer: the ending process's mappings). */
void profile_set_maps_hook(void (*fn)(void));
