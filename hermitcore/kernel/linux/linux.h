/* The Linux system-call layer: shared definitions. Handlers take and return
 * longs exactly as the ABI passes them; errors are -errno. */
#pragma once
#include <hermit/errno.h>
#include <hermit/hermit.h>
#include <hermit/mm.h>
#include <hermit/sched.h>
#include <hermit/trap.h>
#include <hermit/string.h>
#include <hermit/user.h>
#include <stddef.h>
#include <stdint.h>


#define PROT_READ 1
#define PROT_WRITE 2
#define PROT_EXEC 4

/* --- the program's memory (vm.c) --- */
/* A mapping [start, end) with PROT_* bits; pages are mapped on first touch. */
int vm_add(uintptr_t start, uintptr_t end, unsigned prot, const char *name);
uintptr_t vm_find_gap(size_t len); /* a free range of the mmap area, or 0 */
/* Map [start, end) now, copying `len` bytes of `src` to `start` (the rest
 * zero). For segments the kernel could not write through their final
 * permissions. Returns 0 or -ENOMEM. */
int vm_populate(uintptr_t start, uintptr_t end, const void *src, size_t len);
int vm_populate_file(uintptr_t start, uintptr_t end, void *file, uint64_t off, size_t len);
/* Whether [p, p+len) lies in mappings that allow `prot` (PROT_READ/WRITE;
 * 0: merely mapped, whatever the protection). */
int user_ok(uintptr_t p, size_t len, unsigned prot);
/* Copy a NUL-terminated string from the program (at most max-1 bytes).
 * Returns its length, -EFAULT or -ENAMETOOLONG. */
long user_str(uintptr_t p, char *buf, size_t max);
void vm_set_brk_base(uintptr_t base);
size_t vm_describe(char *buf, size_t size); /* /proc/self/maps */
/* Each mapping: its range, protection, name (a file's path for file mappings) and file offset. */
int vm_each(int (*fn)(uintptr_t start, uintptr_t end, unsigned prot, const char *name, uint64_t off, void *arg),
            void *arg);
void vm_set_offset(uintptr_t start, uint64_t off);
union ksiginfo;
/* coredump.c: the process dies of sig (info: what it was sent): 0x80, wait's
 * core bit, when sig dumps core and its RLIMIT_CORE allows one (the core
 * then goes to the host when the run asked for cores: hermit.core=1), else 0 */
int linux_core_dump(int sig, const union ksiginfo *info);
int linux_core_wanted(void); /* the run asked for cores: RLIMIT_CORE starts unlimited, else 0 */
int vm_futex_key(uintptr_t addr, uint64_t *key); /* a shared mapping's futex: its physical address */
int vm_rewrite_named(uintptr_t addr, const char *name, const void *src, size_t len);
void linux_vvar_refresh(void); /* a clock system call: the [vvar] page, once the clock is calibrated */

/* --- files (vfs.h has the model; these are what the rest of the layer uses) --- */
/* The tree at start: the image's files as the root (a writable tmpfs over
 * them unless read_only), /dev, /proc, /sys, tmpfs mounts, --mount
 * directories, /etc defaults; the standard streams as fds 0-2. */
void vfs_init(const void *archive, size_t size, const char *exe_path, const void *exe, size_t exe_size);
struct lock_key;
/* The open file behind fd for mmap, with a reference the mapping keeps
 * (fs_file_put drops it): -EBADF, -ENODEV (not a file), -EACCES (opened
 * without the access the mapping needs). */
long fs_mmap_file(long fd, int shared, int write, void **file, struct lock_key *key);
const char *fs_file_path(void *file); /* the path it was opened by, or NULL */
int fs_fd_valid(long fd); /* open, and not O_PATH */
void fs_file_put(void *file);
int fs_file_writable(void *file); /* opened O_RDWR */
long fs_file_pread(void *file, void *buf, size_t n, uint64_t off);
long fs_file_pwrite(void *file, const void *buf, size_t n, uint64_t off);
long fs_file_size(void *file, uint64_t *size);
int fs_file_cacheable(void *file, struct lock_key *key); /* a tmpfs file (vm.c's page cache keeps it): its key */
void vm_writeback_all(void); /* at exit: shared file mappings reach their files */

#define O_ACCMODE 3
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_TRUNC 01000
#define O_APPEND 02000
#if defined(__x86_64__)
#define O_DIRECTORY 0200000
#define O_NOFOLLOW 0400000
#define O_DIRECT 040000
#else
#define O_DIRECTORY 040000
#define O_NOFOLLOW 0100000
#define O_DIRECT 0200000
#endif

#define O_EXCL 0200
#define O_NONBLOCK 04000
#define O_CLOEXEC 02000000
#define O_PATH 010000000

/* The kernel ABI's shapes, shared by the calls that take them. */
#define MAX_FDS 256
struct timespec_k {
    int64_t sec, nsec;
};

struct kstat {
    uint64_t dev, ino, size, rdev, nlink, blocks; /* blocks: 512-byte units allocated */
    uint32_t mode, uid, gid;
    uint32_t blksize;
    struct timespec_k atime, mtime, ctime;
};

/* What chmod, chown, utimensat and truncate change (9P2000.L's setattr
 * bits, which are Linux's ATTR_* bits). */
#define SETATTR_MODE 0x1
#define SETATTR_UID 0x2
#define SETATTR_GID 0x4
#define SETATTR_SIZE 0x8
#define SETATTR_ATIME 0x10     /* to now, unless ATIME_SET */
#define SETATTR_MTIME 0x20     /* to now, unless MTIME_SET */
#define SETATTR_CTIME 0x40
#define SETATTR_ATIME_SET 0x80 /* to .atime */
#define SETATTR_MTIME_SET 0x100 /* to .mtime */
struct ksetattr {
    unsigned valid;
    uint32_t mode, uid, gid;
    uint64_t size;
    struct timespec_k atime, mtime;
};
struct timeval_k {
    int64_t sec, usec;
};
struct iovec_k {
    const char *base;
    size_t len;
};
struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
};

/* A file system's numbers (statfs/fstatfs): 9P2000.L's Rstatfs fields,
 * which are Linux's struct statfs. */
struct kstatfs {
    uint64_t type, bsize, blocks, bfree, bavail, files, ffree, fsid, namelen, flags;
};

/* --- advisory locks (locks.c): fcntl record locks (POSIX, OFD) and flock --- */
struct lock_key { /* the file a lock is on: its kind of file system and its inode there */
    uint64_t kind, id;
};
#define LOCK_EOF UINT64_MAX
int locks_held(void); /* any lock at all: close() need not look further */
/* The first lock of another owner that conflicts with `type` on [*start,
 * *end]: returns its type (F_RDLCK/F_WRLCK) with its range and pid (-1 for
 * OFD locks), or F_UNLCK. */
long rlock_test(struct lock_key key, const void *owner, int type, uint64_t *start, uint64_t *end, long *pid);
/* Lock (F_RDLCK/F_WRLCK) or unlock (F_UNLCK) [start, end] for owner (the
 * process for POSIX locks, the open file for OFD locks). 0, -EAGAIN, -ENOLCK. */
long rlock_set(struct lock_key key, const void *owner, int ofd, long pid, int type, uint64_t start, uint64_t end,
               int wait);
void rlock_release(struct lock_key key, const void *owner); /* key.kind 0: on every file */
long flock_op(struct lock_key key, const void *file, long op);
void flock_release(const void *file);
/* The owner of the calling process's POSIX locks. */
const void *lock_process(void);
/* vm.c: writes to a file reach its shared mapped pages (file.c and sysfile.c call these). */
int vm_file_shared(void);     /* any file mapped shared: writes must tell vm.c */
/* buf NULL: the bytes are not readable here (the page cache still lets the range go). */
void vm_file_written(struct lock_key key, uint64_t off, const char *buf, size_t n);
void vm_file_truncated(struct lock_key key, uint64_t size);
void vm_file_evicted(struct lock_key key); /* the file's inode goes: its cached pages too */
void vm_file_sync(struct lock_key key); /* fsync: the file's writable shared mappings first */

#define POLLIN 0x1
#define POLLPRI 0x2
#define POLLOUT 0x4
#define POLLERR 0x8
#define POLLHUP 0x10
#define POLLNVAL 0x20
#define POLLRDHUP 0x2000

/* Descriptors backed by another subsystem (sockets, epoll instances). */
/* st_mode file types */
#define S_IFMT 0170000
#define S_IFIFO 0010000
#define S_IFCHR 0020000
#define S_IFDIR 0040000
#define S_IFREG 0100000
#define S_IFSOCK 0140000
#define S_IFLNK 0120000
#define S_IFBLK 0060000

struct file_ops; /* vfs.h */
/* A new descriptor for obj (flags: O_NONBLOCK, O_CLOEXEC). Returns it or -EMFILE. */
long fd_install(const struct file_ops *ops, void *obj, int flags);
/* The object behind fd if it is of kind `ops`, else NULL with *err set
 * (-EBADF, or `wrong_kind`); *flags gets its O_* flags. */
void *fd_object(long fd, const struct file_ops *ops, long wrong_kind, int *flags, long *err);
/* The POLL* bits fd is ready for now (POLLNVAL if it is not open). */
short fd_poll(long fd);

/* --- waiting for I/O: hermit/iowait.h (io_seq, io_wait, io_notify) --- */
#include <hermit/iowait.h>

/* --- sockets (socket.c; the families in vfs.h) --- */
/* The program ends: every socket family delivers what it has queued (a
 * unikernel's exit powers the machine off, unlike a process's exit). */
void sockets_flush_at_exit(void);

/* --- program start (loader.c) and process state (sys.c) --- */
/* What uname reports (sys.c), and /proc/version, /proc/sys/kernel and
 * /etc/hostname with it. */
#define UTS_SYSNAME "Linux"
#define UTS_NODENAME "hermitcore"
#define UTS_DOMAINNAME "(none)"
#define UTS_RELEASE "6.1.0-hermitcore"
#define UTS_VERSION "#1 hermitcore " HERMIT_VERSION
/* --- processes (process.c) --- */
struct mm;      /* vm.c: mappings, brk, the address space */
struct fdtable; /* file.c: descriptors */
struct fs_ctx;  /* namei.c: the working directory */
struct sighand; /* signal.c: dispositions */
struct sigqueue;
union ksiginfo;
/* getrusage's counts: page faults, context switches */
struct rucount {
    uint64_t minflt, majflt, nvcsw, nivcsw;
};

struct process {
    int pid, pgid, sid;
    struct process *parent, *children, *sibling, *next; /* next: every process */
    int zombie;        /* ended, its status not yet collected by wait */
    int exiting;       /* exit_group or a fatal signal: its threads leave */
    int status;        /* wait(2)'s status word once it ends */
    int exit_signal;   /* what the parent gets when it ends (SIGCHLD) */
    int pdeath_signal; /* what it gets when its parent ends (prctl PR_SET_PDEATHSIG; fork clears it) */
    unsigned threads;  /* live threads */
    struct mm *mm;
    struct fdtable *files;
    struct fs_ctx *fs;
    struct sighand *sighand;
    uint64_t shared_pending; /* process-directed signals (signal.c) */
    struct sigqueue *shared_queue;
    struct thread *vfork_parent; /* vfork: woken when this child execs or exits */
    struct thread *exec_thread;  /* execve in progress: every other thread leaves */
    volatile int vfork_done;
    unsigned umask;
    char comm[16];
    uint64_t start_tick; /* arch_counter() when it was made */
    int vvar_stale;      /* its [vvar] was made before the clock could be read in user mode */
    uint64_t core_limit[2]; /* RLIMIT_CORE: soft, hard (fork copies it) */
    /* CPU time (arch_counter() ticks: counter_ns) of its ended threads (its
     * live ones keep theirs: process_times), and of its children that wait
     * collected (their own and theirs: Linux's cutime); resident high-water
     * marks in KiB */
    uint64_t utime_ticks, stime_ticks, cutime_ticks, cstime_ticks;
    uint64_t maxrss_kb, cmaxrss_kb;
    struct rucount ru, cru; /* the same for getrusage's counts */
    uint64_t vm_peak_kb; /* /proc/PID/status's VmPeak: the largest address space seen */
    /* job control (signal.c): the stop signal it is stopped by (0: running);
     * what its parent's wait has to hear of: 1 it stopped (WUNTRACED), 2 it
     * continued (WCONTINUED), 0 nothing */
    int stop_sig, stop_report;
    int ctty; /* the console is its controlling terminal (stdio_file.c; fork keeps it, setsid drops it) */
    /* what /proc/PID shows of the program it runs (loader.c, exec) */
    char exe[256];
    uintptr_t arg_start, arg_end, env_start, env_end, stack_start;
    uint64_t auxv[48];
    size_t auxv_bytes;
};
static inline struct process *current_process(void) { return current_thread()->proc; }
struct process *process_find(int pid); /* a live or zombie process, or NULL */
struct process *process_first(void);   /* for walks: then ->next */
void process_exit(int status) __attribute__((noreturn)); /* exit_group: status is wait(2)'s */
/* The calling thread ends (the process with its last: `status`, wait(2)'s
 * word, unless an exit_group or a fatal signal set one). */
void thread_leave(int status) __attribute__((noreturn));
void linux_thread_cleanup(struct thread *t);
int linux_thread_add(struct thread *t);
void linux_process_init(void);
void process_vfork_release(struct process *p);
void process_stop_others(struct process *p);
long process_clone(unsigned long flags, uintptr_t sp, uintptr_t ptid, uintptr_t ctid, uintptr_t tls);
/* CPU time (ns): p's (its ended threads and its live ones, the running
 * stretch included); a thread's; resident KiB of the caller's memory now */
void process_times(struct process *p, uint64_t *user, uint64_t *sys);
/* procfs.c: a reader standing in for another process to read its /proc
 * files (its proc is that process's meanwhile; not one of its threads) */
extern struct thread *linux_stand_in;
uint64_t process_rss_kb(void);
/* getrusage's counts of p (its ended threads' and its live ones'), of a thread */
void process_counts(struct process *p, struct rucount *out);
void thread_counts(const struct thread *t, struct rucount *out);
void rucount_add(struct rucount *to, const struct rucount *c);
/* The calling process's memory's resident high-water mark (KiB): Linux's hiwater_rss */
uint64_t vm_hwm_kb(void);
struct rusage_k {
    struct {
        int64_t sec, usec;
    } utime, stime;
    int64_t maxrss, ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv, nsignals, nvcsw,
        nivcsw;
};
void rusage_fill(struct rusage_k *r, uint64_t user_ns, uint64_t sys_ns, uint64_t maxrss_kb,
                 const struct rucount *c); /* sys.c */
/* A CPU-time clock id (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID or
 * one of clock_getcpuclockid/pthread_getcpuclockid): 1 and its reading
 * (ns; which: 0 PROF user+sys, 1 VIRT user, 2 SCHED user+sys) or 0 when
 * id is no CPU clock; -EINVAL when it names none that exists. */
int cpu_clock_read(long id, uint64_t *ns);
/* The same split: its process (or thread, by tid: else 0) and `which`. */
int cpu_clock_parse(long id, struct process **p, long *tid, int *which);
uint64_t cpu_clock_value(struct process *p, long tid, int which); /* ~0: the thread is gone */
/* vm.c's side */
struct mm *vm_first_mm(void);
struct mm *vm_fork(void);
struct mm *vm_share(struct mm *m);
uint64_t vm_root(struct mm *m);
int vm_exec(struct process *p);
void vm_exit(struct process *p);
/* file.c's, namei.c's, signal.c's */
struct fdtable *fdt_first(void);
struct fdtable *fdt_fork(struct fdtable *t);
struct fdtable *fdt_share(struct fdtable *t);
void fdt_put(struct fdtable *t);
void fdt_close_on_exec(void);
struct fs_ctx *fs_first(void);
struct fs_ctx *fs_fork(struct fs_ctx *f);
struct fs_ctx *fs_share(struct fs_ctx *f);
void fs_put(struct fs_ctx *f);
struct sighand *sighand_first(void);
struct sighand *sighand_fork(struct sighand *h);
struct sighand *sighand_share(struct sighand *h);
void sighand_put(struct sighand *h);
void signal_exec(void);          /* handlers go back to SIG_DFL (ignored stay ignored) */
long signal_to(struct process *p, int sig, const union ksiginfo *info); /* process-directed */
int signal_ignored_child(struct process *parent); /* SIGCHLD ignored or SA_NOCLDWAIT: no zombies */
void sigtimer_release(struct process *p, int exec); /* sigtimer.c: its timers go (exec: but alarm) */
void sigtimer_taken(union ksiginfo *info); /* a timer's signal left the queue: its overruns into it */
#define linux_exe_path (current_process()->exe) /* "/name", what /proc/self/exe names */
extern int strace_enabled;
uint64_t realtime_ns(void);
/* CLOCK_REALTIME minus CLOCK_MONOTONIC: turns a wall-clock deadline into
 * one on clock_ns() without reading the clock twice. */
uint64_t realtime_offset_ns(void);
void random_bytes(void *buf, size_t n);
void linux_exit(int status) __attribute__((noreturn));
/* The layer's side of hermit/user.h's struct program_layer (loader.c
 * registers them): syscall.c, vm.c, sys.c. */
long linux_syscall(unsigned long nr, long a0, long a1, long a2, long a3, long a4, long a5);
int linux_fault(uintptr_t addr, int write, int exec);
void linux_explain_fault(uintptr_t addr);
void linux_tty_signal(int sig, int from_host);
/* The console as a controlling terminal (stdio_file.c): whether p has it,
 * and its foreground process group (0: none). */
int linux_has_ctty(struct process *p);
long linux_tty_pgrp(void);
/* signal.c: Linux's __tty_check_change for the caller on its controlling
 * terminal, whose foreground group is fg: 0 (go on), -EIO, or -ERESTARTSYS
 * once sig went to the caller's group */
long signal_tty_check(int sig, long fg);
void linux_threads_init(void); /* thread.c: the running thread is the first */
long sys_getpid(void);
extern unsigned fd_limit; /* file.c: RLIMIT_NOFILE, at most MAX_FDS */

/* --- signals (signal.c; interval and POSIX timers: sigtimer.c; signalfd.c) --- */
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGTTIN 21
#define SIGTTOU 22
#define SIGURG 23
#define SIGVTALRM 26
#define SIGPROF 27
#define SIGWINCH 28
#define SIGSYS 31
#define SIGRTMIN 32
#define NSIG_K 64 /* signals 1..64 */
#define SIG_BIT(s) (1ull << ((s) - 1))
#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_QUEUE (-1)
#define SI_TIMER (-2)
#define SI_TKILL (-6)
/* Linux's siginfo_t (128 bytes) with the fields the kernel fills in. */
union ksiginfo {
    uint8_t raw[128];
    struct {
        int32_t signo, errno_, code, pad;
        union {
            struct {
                int32_t pid;
                uint32_t uid;
                uint64_t value;
            } kill; /* SI_USER, SI_TKILL, SI_QUEUE (value) */
            struct {
                int32_t tid, overrun;
                uint64_t value;
            } timer;
            struct {
                uintptr_t addr;
            } fault;
            struct {
                int32_t pid;
                uint32_t uid;
                int32_t status, pad;
                int64_t utime, stime;
            } chld;
        };
    };
};
/* Send sig to the process (any thread that does not block it takes it) or
 * to one thread; from system calls and interrupt handlers alike. info NULL:
 * SI_KERNEL. 0, or -EAGAIN when a real-time signal cannot be queued. */
long signal_process(int sig, const union ksiginfo *info);
long signal_thread(struct thread *t, int sig, const union ksiginfo *info);
/* A signal the kernel raises for the calling thread (SIGPIPE, SIGXFSZ). */
long signal_self(long sig);
/* The calling thread has a signal to take: a blocking call returns
 * -ERESTARTSYS (or -EINTR) now. */
static inline int signal_pending(void) { return current_thread()->sig_wakeup; }
/* Take the first pending signal of `set` (blocked or not) off the calling
 * thread's or the process's queue: its number, or 0. */
int signal_dequeue(uint64_t set, union ksiginfo *info);
uint64_t signal_pending_set(void); /* the thread's and the process's pending signals */
/* ppoll, pselect6, epoll_pwait: the mask for the wait (0, -EINVAL, -EFAULT),
 * then back -- after the handler's frame when the wait was interrupted. */
long signal_mask_swap(long umask, long size);
void signal_mask_restore(int interrupted);
void signal_thread_start(struct thread *child); /* clone: the mask is the parent's */
void signal_thread_exit(struct thread *t);
int linux_user_return(void *regs);
int linux_fault_signal(const struct fault_info *f, void *regs);
/* thread.c: the live threads, for picking who takes a signal. */
void linux_threads_lock(void);
void linux_threads_unlock(void);
struct thread *linux_thread_at(unsigned i); /* under the lock; NULL past the last */
struct thread *linux_thread_find(long tid); /* under the lock */

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
