/* Reading a flattened device tree handed over by the VMM (aarch64 boot). */
#pragma once
#include <hermit/boot.h>

/* Fill bi->ram, bi->cpus and bi->cmdline from the DTB at `fdt`.
 * Returns 0, or -1 if `fdt` is not a valid DTB. */
int fdt_read_boot_info(const void *fdt, struct boot_info *bi);
