/* The Linux system-call layer: shared definitions. Handlers take and return
 * longs exactly as the ABI passes them; errors are -errno. */
#pragma once
#include <hermit/hermit.h>
#include <hermit/mm.h>
#include <hermit/string.h>
#include <hermit/user.h>
#include <stddef.h>
#include <stdint.h>

#define EPERM 1
#define ENOENT 2
#define ESRCH 3
#define EINTR 4
#define EIO 5
#define EBADF 9
#define ECHILD 10
#define EAGAIN 11
#define ENOMEM 12
#define EACCES 13
#define EFAULT 14
#define EEXIST 17
#define ENOTDIR 20
#define EISDIR 21
#define EINVAL 22
#define EMFILE 24
#define ENOTTY 25
#define EFBIG 27
#define ESPIPE 29
#define EROFS 30
#define EPIPE 32
#define ERANGE 34
#define EDEADLK 35
#define ENAMETOOLONG 36
#define ENOSYS 38
#define ENOTEMPTY 39
#define ELOOP 40
#define ETIMEDOUT 110

#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4

/* --- the program's memory (vm.c) --- */
/* A mapping [start, end) with PROT_* bits; pages are mapped on first touch. */
int vm_add(uintptr_t start, uintptr_t end, unsigned prot, const char *name);
/* Map [start, end) now, copying `len` bytes of `src` to `start` (the rest
 * zero). For segments the kernel could not write through their final
 * permissions. Returns 0 or -ENOMEM. */
int vm_populate(uintptr_t start, uintptr_t end, const void *src, size_t len);
/* Whether [p, p+len) lies in mappings that allow `prot` (PROT_READ/WRITE;
 * 0: merely mapped, whatever the protection). */
int user_ok(uintptr_t p, size_t len, unsigned prot);
/* Copy a NUL-terminated string from the program (at most max-1 bytes).
 * Returns its length, -EFAULT or -ENAMETOOLONG. */
long user_str(uintptr_t p, char *buf, size_t max);
void vm_set_brk_base(uintptr_t base);
size_t vm_describe(char *buf, size_t size); /* /proc/self/maps */

/* --- files (fs.c) --- */
void fs_init(const void *archive, size_t size, const char *exe_path);

/* --- program start (loader.c) and process state (sys.c) --- */
extern const char *linux_exe_path; /* "/name", what /proc/self/exe names */
extern int strace_enabled;
uint64_t realtime_ns(void);
void random_bytes(void *buf, size_t n);
void linux_exit(int status) __attribute__((noreturn));
void linux_threads_init(void); /* thread.c: the running thread is the first */
long signal_self(long sig); /* sys.c: a signal to the program itself (fatal ones end it) */

/* Generated per architecture from hermitcore/linux_abi.py. */
typedef long (*syscall_fn)(long, long, long, long, long, long);
struct syscall_entry {
    const char *name;
    syscall_fn fn;
    unsigned char nargs;
    unsigned char quiet;    /* -ENOSYS without a report: libc probes it */
    unsigned char unlocked; /* runs without the big kernel lock (threads, futexes, time) */
};
extern const struct syscall_entry syscall_table[];
extern const unsigned syscall_count;
