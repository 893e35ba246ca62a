/* ELF64 as the loader reads programs and the core dump writes cores. */
#pragma once
#include <stdint.h>

#define ET_EXEC 2
#define ET_DYN 3
#define ET_CORE 4
#define PT_LOAD 1
#define PT_INTERP 3
#define PT_NOTE 4
#define PT_PHDR 6
#define PT_TLS 7
#define PT_GNU_STACK 0x6474e551u
#define PF_X 1
#define PF_W 2
#define PF_R 4
#if defined(__x86_64__)
#define ELF_MACHINE 62 /* EM_X86_64 */
#else
#define ELF_MACHINE 183 /* EM_AARCH64 */
#endif

struct elf64_ehdr {
    unsigned char e_ident[16];
    uint16_t e_type, e_machine;
    uint32_t e_version;
    uint64_t e_entry, e_phoff, e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
};

struct elf64_phdr {
    uint32_t p_type, p_flags;
    uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
};
