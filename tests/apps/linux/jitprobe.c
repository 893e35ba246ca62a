/* What a JIT does (LuaJIT, V8, the JVM): machine code written into memory
 * mapped writable and executable at once, and the W^X way -- written while
 * RW, then mprotect'ed to RX -- then called. test_dynamic.py runs it in the
 * guest and on the host. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

typedef int (*fn_t)(void);

/* return n */
static size_t emit(unsigned char *p, int n)
{
#if defined(__x86_64__)
    unsigned char code[] = {0xb8, (unsigned char)n, (unsigned char)(n >> 8), 0, 0, 0xc3}; /* mov eax, n; ret */
#else
    uint32_t insn[] = {0x52800000u | ((uint32_t)n & 0xffff) << 5, 0xd65f03c0u}; /* mov w0, #n; ret */
    unsigned char code[sizeof insn];
    memcpy(code, insn, sizeof insn);
#endif
    memcpy(p, code, sizeof code);
    __builtin___clear_cache((char *)p, (char *)p + sizeof code);
    return sizeof code;
}

int main(void)
{
    unsigned char *rwx = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rwx == MAP_FAILED) {
        perror("mmap rwx");
        return 1;
    }
    emit(rwx, 42);
    printf("rwx: %d\n", ((fn_t)rwx)());
    emit(rwx, 43); /* rewritten in place, as a JIT patches code */
    printf("rwx patched: %d\n", ((fn_t)rwx)());

    unsigned char *wx = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    emit(wx, 7);
    if (mprotect(wx, 4096, PROT_READ | PROT_EXEC) != 0) {
        perror("mprotect rx");
        return 1;
    }
    printf("rw then rx: %d\n", ((fn_t)wx)());
    if (mprotect(wx, 4096, PROT_READ | PROT_WRITE) != 0) {
        perror("mprotect rw");
        return 1;
    }
    emit(wx, 8);
    mprotect(wx, 4096, PROT_READ | PROT_EXEC);
    printf("rx, rw, rx again: %d\n", ((fn_t)wx)());
    return 0;
}
