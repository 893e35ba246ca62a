/* The sampling profiler (kernel/profile.c): hermit.profile=HZ. */
#pragma once

extern unsigned profile_hz;
/* This CPU starts sampling (once; trap.c calls it as the CPU returns to the program). */
void profile_arm(void);
/* The samples to the host (the blob "profile"), at the end of the run. */
void profile_flush(void);
