/* What the arch layer learned from the VMM at boot (PVH start info, DTB).
 * Nothing here is baked in at compose time. */
#pragma once
#include <stdint.h>

#define BOOT_MAX_RAM_RANGES 32
#define BOOT_MAX_CPUS 64

struct ram_range {
    uint64_t base;
    uint64_t size;
};

struct boot_info {
    const char *protocol;        /* "pvh", "dtb" */
    struct ram_range ram[BOOT_MAX_RAM_RANGES];
    unsigned ram_ranges;
    unsigned cpus;
    uint32_t cpu_ids[BOOT_MAX_CPUS]; /* APIC IDs / MPIDRs, the boot CPU first */
    const char *cpu_enable;      /* how to start the others: "psci-hvc", "psci-smc", "sipi" */
    const char *cmdline;         /* may be "" */
};

/* Sum of all RAM ranges, in bytes. */
uint64_t boot_ram_bytes(const struct boot_info *bi);

/* Generic entry, called by the arch layer once it is in a C environment. */
void kernel_main(struct boot_info *bi) __attribute__((noreturn));
