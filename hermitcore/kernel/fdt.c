#include <hermit/fdt.h>
#include <hermit/string.h>
#include <stdint.h>

#define FDT_MAGIC 0xd00dfeed
#define FDT_BEGIN_NODE 1
#define FDT_END_NODE 2
#define FDT_PROP 3
#define FDT_NOP 4
#define FDT_END 9

static uint32_t be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t cells(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v = v << 32 | be32(p + 4 * i);
    return v;
}

static int name_is(const char *name, const char *base)
{
    size_t n = strlen(base);
    return strncmp(name, base, n) == 0 && (name[n] == 0 || name[n] == '@');
}

int fdt_read_boot_info(const void *fdt, struct boot_info *bi)
{
    const uint8_t *base = fdt;
    if (be32(base) != FDT_MAGIC)
        return -1;
    const uint8_t *p = base + be32(base + 8);       /* off_dt_struct */
    const char *strings = (const char *)base + be32(base + 12);
    unsigned addr_cells = 2, size_cells = 1, cpu_cells = 1, depth = 0;
    const char *path[4] = {0};
    /* per-node scratch for depth 1..2 */
    const uint8_t *reg = 0;
    uint32_t reg_len = 0;
    int is_memory = 0, is_cpu = 0;

    bi->ram_ranges = 0;
    bi->cpus = 0;
    bi->cmdline = "";
    bi->cpu_enable = "";
    for (;;) {
        uint32_t tok = be32(p);
        p += 4;
        if (tok == FDT_BEGIN_NODE) {
            const char *name = (const char *)p;
            p += (strlen(name) + 4) & ~3u;
            if (depth < 4)
                path[depth] = name;
            depth++;
            reg = 0;
            is_memory = depth == 2 && name_is(name, "memory");
            is_cpu = 0;
        } else if (tok == FDT_END_NODE) {
            if (depth == 2 && is_memory && reg) {
                unsigned step = 4 * (addr_cells + size_cells);
                for (uint32_t off = 0; off + step <= reg_len; off += step) {
                    if (bi->ram_ranges == BOOT_MAX_RAM_RANGES)
                        break;
                    bi->ram[bi->ram_ranges].base = cells(reg + off, addr_cells);
                    bi->ram[bi->ram_ranges].size = cells(reg + off + 4 * addr_cells, size_cells);
                    bi->ram_ranges++;
                }
            }
            if (depth == 3 && is_cpu) {
                if (bi->cpus < BOOT_MAX_CPUS)
                    bi->cpu_ids[bi->cpus] = reg ? (uint32_t)cells(reg, cpu_cells) : bi->cpus;
                bi->cpus++;
            }
            depth--;
            is_memory = is_cpu = 0;
            reg = 0;
        } else if (tok == FDT_PROP) {
            uint32_t len = be32(p), nameoff = be32(p + 4);
            const uint8_t *data = p + 8;
            const char *pname = strings + nameoff;
            p += 8 + ((len + 3) & ~3u);
            if (depth == 1 && !strcmp(pname, "#address-cells"))
                addr_cells = be32(data);
            else if (depth == 1 && !strcmp(pname, "#size-cells"))
                size_cells = be32(data);
            else if ((depth == 2 || depth == 3) && !strcmp(pname, "reg"))
                reg = data, reg_len = len;
            else if (depth == 2 && name_is(path[1], "cpus") && !strcmp(pname, "#address-cells"))
                cpu_cells = be32(data);
            else if (depth == 2 && name_is(path[1], "psci") && !strcmp(pname, "method"))
                bi->cpu_enable = !strcmp((const char *)data, "smc") ? "psci-smc" : "psci-hvc";
            else if (depth == 2 && !strcmp(pname, "device_type") && !strcmp((const char *)data, "memory"))
                is_memory = 1;
            else if (depth == 2 && name_is(path[1], "chosen") && !strcmp(pname, "bootargs"))
                bi->cmdline = (const char *)data;
            else if (depth == 3 && name_is(path[1], "cpus") && !strcmp(pname, "device_type") &&
                     !strcmp((const char *)data, "cpu"))
                is_cpu = 1;
        } else if (tok == FDT_NOP) {
            continue;
        } else {
            break; /* FDT_END or garbage */
        }
    }
    if (bi->cpus == 0)
        bi->cpus = 1;
    return 0;
}
