/* From the PVH start info (and the ACPI tables it points to) to the generic
 * struct boot_info: RAM ranges, CPU count, command line. */
#include <hermit/boot.h>
#include <hermit/init.h>
#include <hermit/mm.h>
#include <hermit/sched.h>
#include <hermit/string.h>
#include <stdint.h>

#define HVM_START_MAGIC 0x336ec578
#define E820_RAM 1

struct hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;    /* version >= 1 */
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct hvm_memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

struct acpi_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem[6];
    char oem_table[8];
    uint32_t oem_revision;
    uint32_t creator;
    uint32_t creator_revision;
} __attribute__((packed));

static struct boot_info boot_info;
extern uint64_t boot_pt0[]; /* pagetables.S: the 4 KiB PTEs of the first 2 MiB */

/* ACPI tables live in firmware-reserved memory, outside the RAM direct map:
 * map each one read-only into the direct-map window before reading it. */
static const void *acpi_map(uint64_t addr, uint64_t len)
{
    uint64_t start = addr & ~(PAGE_SIZE - 1), end = (addr + len + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    if (arch_map(arch_direct_map_base + start, start, end - start, 0) != 0)
        return 0;
    return (const void *)(arch_direct_map_base + addr);
}

static const struct acpi_header *acpi_table(uint64_t addr)
{
    const struct acpi_header *h = acpi_map(addr, sizeof *h);
    return h ? acpi_map(addr, h->length) : 0;
}

/* The RSDP from start info, or the legacy BIOS area search (0xE0000-0xFFFFF). */
static const uint8_t *find_rsdp(const struct hvm_start_info *si)
{
    if (si->rsdp_paddr)
        return acpi_map(si->rsdp_paddr, 36);
    for (uintptr_t p = 0xe0000; p < 0x100000; p += 16)
        if (!memcmp((const void *)p, "RSD PTR ", 8))
            return (const uint8_t *)p;
    return 0;
}

static uint32_t boot_apic_id(void)
{
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    return b >> 24; /* initial APIC ID */
}

/* Enabled CPUs of the ACPI MADT into bi->cpu_ids, the boot CPU first. */
static unsigned madt_cpus(const struct acpi_header *madt, struct boot_info *bi)
{
    const uint8_t *p = (const uint8_t *)madt + sizeof *madt + 8;
    const uint8_t *end = (const uint8_t *)madt + madt->length;
    uint32_t bsp = boot_apic_id();
    unsigned n = 1;
    bi->cpu_ids[0] = bsp;
    while (p + 2 <= end && p[1] >= 2) {
        uint32_t flags, id;
        int cpu = 0;
        if (p[0] == 0) { /* processor local APIC: id at +3, flags at +4 */
            memcpy(&flags, p + 4, 4);
            id = p[3];
            cpu = 1;
        } else if (p[0] == 9) { /* processor local x2APIC: id at +4, flags at +8 */
            memcpy(&flags, p + 8, 4);
            memcpy(&id, p + 4, 4);
            cpu = 1;
        }
        if (cpu && (flags & 1) && id != bsp && n < BOOT_MAX_CPUS)
            bi->cpu_ids[n++] = id;
        p += p[1];
    }
    return n;
}

/* Count enabled CPUs in the ACPI MADT; 0 if there are no ACPI tables. */
static unsigned acpi_cpu_count(const struct hvm_start_info *si, struct boot_info *bi)
{
    const uint8_t *rsdp = find_rsdp(si);
    if (!rsdp)
        return 0;
    uint32_t rsdt;
    uint64_t xsdt = 0;
    memcpy(&rsdt, rsdp + 16, 4);
    if (rsdp[15] >= 2)
        memcpy(&xsdt, rsdp + 24, 8);
    const struct acpi_header *root = acpi_table(xsdt ? xsdt : rsdt);
    if (!root)
        return 0;
    unsigned entry = xsdt ? 8 : 4;
    unsigned count = (root->length - sizeof *root) / entry;
    for (unsigned i = 0; i < count; i++) {
        uint64_t addr = 0;
        memcpy(&addr, (const uint8_t *)root + sizeof *root + i * entry, entry);
        const struct acpi_header *t = acpi_table(addr);
        if (t && !memcmp(t->signature, "APIC", 4))
            return madt_cpus(t, bi);
    }
    return 0;
}

void x86_64_start(const struct hvm_start_info *si)
{
    struct boot_info *bi = &boot_info;
    boot_stage("PVH entry, long mode");
    sched_early_init(boot_apic_id());
    bi->protocol = "pvh";
    bi->cpu_enable = "sipi";
    bi->cmdline = "";
    if (si->magic == HVM_START_MAGIC) {
        if (si->cmdline_paddr) /* in low RAM, identity mapped; kernel_main copies it first thing */
            bi->cmdline = (const char *)(uintptr_t)si->cmdline_paddr;
        if (si->version >= 1 && si->memmap_paddr) {
            const struct hvm_memmap_entry *e =
                (const struct hvm_memmap_entry *)(uintptr_t)si->memmap_paddr;
            for (uint32_t i = 0; i < si->memmap_entries && bi->ram_ranges < BOOT_MAX_RAM_RANGES; i++) {
                if (e[i].type == E820_RAM) {
                    bi->ram[bi->ram_ranges].base = e[i].addr;
                    bi->ram[bi->ram_ranges].size = e[i].size;
                    bi->ram_ranges++;
                }
            }
        }
        /* The boot tables cover only the kernel: map RAM before reading
         * ACPI tables, which firmware may put anywhere in it. */
        mm_map_ram(bi);
        bi->cpus = acpi_cpu_count(si, bi);
        boot_stage("ACPI tables");
    }
    if (bi->cpus == 0)
        bi->cpus = 1;
    /* Everything from the VMM is copied: page 0 goes, so NULL faults. */
    boot_pt0[0] = 0;
    __asm__ volatile("invlpg (%0)" : : "r"(0ul) : "memory");
    kernel_main(bi);
}
