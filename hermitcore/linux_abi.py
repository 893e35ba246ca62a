"""The Linux system calls hermitcore serves, and the per-architecture table
the kernel is built with (x86_64 and aarch64 number them differently).

``SYSCALLS`` is the single source: the kernel's dispatch table is generated
from it at compose time and ``docs/linux-abi.md`` is generated from it too
(``python -m hermitcore.linux_abi > docs/linux-abi.md``; a unit test checks
the committed page matches), so the documentation cannot drift.
"""

from __future__ import annotations

import sys

from hermitcore.syscall_numbers import AARCH64, X86_64

NUMBERS = {"x86_64": X86_64, "aarch64": AARCH64}

#: name -> (number of arguments, what hermitcore does)
SYSCALLS: dict[str, tuple[int, str]] = {
    # files and descriptors
    "read": (3, "stdin: the host command's standard input, byte for byte, end of file when it ends (a terminal: the guest's line discipline; a background group reading its controlling terminal: SIGTTIN, -EIO when ignored, blocked or orphaned); files of every file system (the writable root, tmpfs, --mount directories, /proc with /proc/PID of every process, /sys), pipes and FIFOs, sockets, /dev/{null,zero,full,random,urandom}"),
    "write": (3, "stdout, stderr: the host command's own, apart and byte for byte (a closed host stdout: SIGPIPE/-EPIPE; a terminal under TOSTOP: SIGTTOU for a background group); files (the root and tmpfs in memory: -ENOSPC when full; --mount directories: the host's), pipes, sockets, /dev/null, /dev/full (-ENOSPC); a pipe without readers raises SIGPIPE (default: the program ends with 141; ignored: -EPIPE)"),
    "readv": (3, "as read"),
    "writev": (3, "as write"),
    "pread64": (4, "files of every file system; -ESPIPE on pipes, sockets, terminals"),
    "pwrite64": (4, "as pread64 (with O_APPEND at the end, as Linux)"),
    "preadv": (4, "as pread64"),
    "pwritev": (4, "as pwrite64"),
    "open": (3, "as openat"),
    "creat": (2, "as openat(O_CREAT|O_WRONLY|O_TRUNC)"),
    "openat": (4, "one tree (docs/architecture.md): the image's files as a writable root (in memory; --read-only: -EROFS), tmpfs at /tmp, /run, /dev/shm, /dev, /proc, /sys, --mount directories over 9P; O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW, O_TMPFILE, O_CLOEXEC; symlinks followed (at most 40: -ELOOP); FIFOs; /proc/self/fd/N reopens that file"),
    "close": (1, ""),
    "close_range": (3, "CLOSE_RANGE_CLOEXEC; CLOSE_RANGE_UNSHARE: -EINVAL"),
    "lseek": (3, ""),
    "fstat": (2, ""),
    "stat": (2, ""),
    "lstat": (2, ""),
    "newfstatat": (4, "AT_EMPTY_PATH and AT_SYMLINK_NOFOLLOW honoured"),
    "statx": (5, "basic stats"),
    "statfs": (2, "per file system: tmpfs (the root, /tmp, /run, /dev/shm: size, bound and use), devtmpfs, proc, sysfs, a --mount directory: the host's numbers (9P statfs); ST_RDONLY with --read-only"),
    "fstatfs": (2, "as statfs; pipes, sockets, terminals: pipefs, sockfs, devpts"),
    "access": (2, ""),
    "faccessat": (3, ""),
    "faccessat2": (4, ""),
    "getdents64": (3, "every file system; entries removed during a listing are neither skipped nor repeated on tmpfs"),
    "readlink": (3, "as readlinkat"),
    "readlinkat": (4, "symlinks of every file system; /proc/self and /proc/PID/exe, cwd, fd/N for every process (a zombie's: -ENOENT)"),
    "getcwd": (2, ""),
    "chdir": (1, ""),
    "fchdir": (1, ""),
    "dup": (1, ""),
    "dup2": (2, ""),
    "dup3": (3, ""),
    "fcntl": (3, "F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, F_GETFL/F_SETFL; record locks F_GETLK/F_SETLK/F_SETLKW and open-file-description locks F_OFD_GETLK/SETLK/SETLKW on every kind of file, with Linux's semantics (POSIX locks are the process's and go with any close of the file, OFD locks the open file's; both kinds conflict with each other)"),
    "flock": (2, "LOCK_SH, LOCK_EX, LOCK_UN, LOCK_NB; per open file description, released with its last descriptor; a failed conversion drops the old lock, as Linux does"),
    "pipe": (1, "64 KiB; reads block while it is empty and a writer is open, writes while it is full (O_NONBLOCK: -EAGAIN)"),
    "pipe2": (2, "as pipe"),
    "ioctl": (3, "on a stream that is a terminal on the host: TCGETS/TCSETS* (the line discipline follows), TIOCGWINSZ (the host's size)/TIOCSWINSZ; the console is pid 1's controlling terminal (session 1): TIOCGPGRP/TIOCSPGRP (tcsetpgrp: -EPERM for another session's group, -ESRCH for none), TIOCGSID, TIOCSCTTY, TIOCNOTTY, -ENOTTY for a process without it; a background group's TCSETS* and TIOCSPGRP raise SIGTTOU as Linux (done when it is blocked or ignored; an orphaned group: -EIO, TIOCSPGRP -ENOTTY); elsewhere -ENOTTY; FIONBIO; FIONREAD on stdin and pipes"),
    "poll": (3, "standard streams (stdin readable when bytes or end of file are there), files, pipes, sockets, epoll; blocks until ready or the timeout"),
    "ppoll": (5, "as poll, with the given signal mask while it waits (as pselect6 and epoll_pwait)"),
    "select": (5, "as poll; the timeout is not updated"),
    "pselect6": (6, "as select"),
    "epoll_create": (1, "as epoll_create1(0)"),
    "epoll_create1": (1, "EPOLL_CLOEXEC"),
    "epoll_ctl": (4, "ADD, MOD, DEL; EPOLLONESHOT; EPOLLET is served level-triggered"),
    "epoll_wait": (4, "level-triggered"),
    "epoll_pwait": (6, "as epoll_wait"),
    "fsync": (1, "--mount files: the file's writable shared mappings written back, then the host's fsync; in-memory files: nothing to flush"),
    "fdatasync": (1, "as fsync"),
    "fadvise64": (4, "accepted"),
    "umask": (1, "kept (022 at start); applied to open, mkdir, mknod"),
    "mkdir": (2, "as mkdirat"),
    "mkdirat": (3, "every writable file system"),
    "unlink": (1, "as unlinkat"),
    "unlinkat": (3, "every writable file system (AT_REMOVEDIR too); an open file lives on until closed; a mount point is -EBUSY"),
    "rmdir": (1, "as unlinkat(AT_REMOVEDIR)"),
    "rename": (2, "as renameat2"),
    "renameat": (4, "as renameat2"),
    "renameat2": (5, "within one file system: over an existing name atomically, RENAME_NOREPLACE and RENAME_EXCHANGE on tmpfs (9P: flags 0); -EXDEV across mounts"),
    "ftruncate": (2, "files opened for writing"),
    "truncate": (2, "regular files"),
    "chmod": (2, "as fchmodat"),
    "fchmodat": (3, "kept by tmpfs, sent to the host for --mount files; accepted and not kept for generated files"),
    "fchmod": (2, "as fchmodat; pipes and sockets: accepted and not kept"),
    "chown": (3, "as fchownat"),
    "lchown": (3, "as fchownat with AT_SYMLINK_NOFOLLOW"),
    "fchownat": (5, "kept by tmpfs; --mount files: QEMU applies what its user may"),
    "fchown": (3, "as fchownat"),
    "utimensat": (4, "UTIME_NOW, UTIME_OMIT, NULL times (now), a NULL path (futimens); kept by tmpfs, sent to the host for --mount files"),
    "sendfile": (4, "from any file to any descriptor, with or without an offset pointer"),
    "copy_file_range": (6, "between files of any file systems, through a kernel buffer"),
    "fallocate": (4, "mode 0 (grows the file; space is allocated as it is written) and FALLOC_FL_KEEP_SIZE; other modes -EOPNOTSUPP"),
    "symlink": (2, "as symlinkat"),
    "symlinkat": (3, "every writable file system"),
    "link": (2, "as linkat"),
    "linkat": (5, "hard links within one file system; AT_SYMLINK_FOLLOW, AT_EMPTY_PATH (an O_TMPFILE file gets its name)"),
    "mknod": (3, "as mknodat"),
    "mknodat": (4, "regular files, FIFOs, sockets and device nodes (character devices open as the devices /dev has)"),
    "sync": (0, "nothing to flush: in-memory files are current and the host's are written through"),
    "syncfs": (1, "as sync"),
    "chroot": (1, "-EPERM"),
    # sockets (images whose board has a network card: lwIP inside the kernel)
    "socket": (3, "AF_INET: SOCK_STREAM (TCP), SOCK_DGRAM (UDP), with SOCK_NONBLOCK/SOCK_CLOEXEC; the first call brings the interface up (DHCP unless --ip); other families -EAFNOSUPPORT"),
    "bind": (3, "SO_REUSEADDR honoured"),
    "listen": (2, "backlog up to 128"),
    "accept": (3, ""),
    "accept4": (4, "SOCK_NONBLOCK, SOCK_CLOEXEC"),
    "connect": (3, "TCP (blocking, or -EINPROGRESS when non-blocking) and UDP"),
    "shutdown": (2, "SHUT_RD, SHUT_WR, SHUT_RDWR"),
    "getsockname": (3, ""),
    "getpeername": (3, ""),
    "setsockopt": (5, "SO_REUSEADDR/REUSEPORT, SO_KEEPALIVE, SO_BROADCAST, SO_RCVTIMEO/SNDTIMEO, TCP_NODELAY; SO_RCVBUF/SNDBUF recorded; other IP/TCP options accepted"),
    "getsockopt": (5, "SO_ERROR, SO_TYPE, SO_ACCEPTCONN, SO_RCVBUF/SNDBUF, SO_REUSEADDR, TCP_NODELAY, TCP_MAXSEG, ..."),
    "sendto": (6, "MSG_DONTWAIT; MSG_NOSIGNAL (else SIGPIPE on a connection shut for writing)"),
    "recvfrom": (6, "MSG_PEEK, MSG_DONTWAIT, MSG_WAITALL, MSG_TRUNC"),
    "sendmsg": (3, "no ancillary data"),
    "recvmsg": (3, "no ancillary data; MSG_TRUNC reported in msg_flags"),
    # memory
    "brk": (1, "demand-zero heap after the program's last segment"),
    "mmap": (6, "anonymous (demand-zero) and file mappings of embedded and host files: private (a copy read when mapped) and shared (the file's pages, one per file page for every shared mapping of it, which write()/pwrite()/ftruncate update; written back on msync, on the last unmapping, at exit and at a fatal fault, so read() sees a mapping's writes only then); MAP_FIXED(_NOREPLACE); a private writable mapping larger than RAM is -ENOMEM (Linux's heuristic overcommit), touching more memory than there is ends the program with 137 (SIGKILL, as the OOM killer)"),
    "munmap": (2, ""),
    "msync": (3, "shared file mappings back to their files"),
    "mprotect": (3, "PROT_NONE pages keep their contents"),
    "mremap": (5, "shrink, grow in place, or move pages (MREMAP_MAYMOVE); a shared file mapping does not grow (-ENOMEM)"),
    "madvise": (3, "MADV_DONTNEED/MADV_FREE drop pages; other advice accepted"),
    # process
    "exit": (1, "ends the calling thread (CLONE_CHILD_CLEARTID cleared and woken, robust futexes released); the last one ends the program"),
    "exit_group": (1, "ends the program, every thread; its status is the exit status of `hermitcore run`"),
    "clone": (5, "threads (CLONE_VM|CLONE_SIGHAND|CLONE_THREAD, as pthread_create) and processes: without CLONE_VM a copy-on-write copy of the memory (fork), with CLONE_VM|CLONE_VFORK the parent's memory until the child execs or exits (vfork, posix_spawn); CLONE_FILES, CLONE_FS, CLONE_SIGHAND share instead of copying; SETTLS, PARENT_SETTID, CHILD_SETTID (in the child's memory), CHILD_CLEARTID, CLONE_PARENT; the exit signal in the low byte"),
    "execve": (3, "programs of the file tree: static and static-pie ELF, `#!` scripts (4 interpreters deep); arguments and environment up to 2 MiB (E2BIG); close-on-exec descriptors close, handlers reset, other threads end, a vfork parent goes on; /proc/self/exe follows"),
    "execveat": (5, "as execve, from a directory descriptor; AT_EMPTY_PATH, AT_SYMLINK_NOFOLLOW"),
    "fork": (0, "as clone(SIGCHLD): the child's memory is the parent's, copied on write"),
    "vfork": (0, "as clone(CLONE_VM|CLONE_VFORK|SIGCHLD)"),
    "getpid": (0, "the process's id (pid 1 is the program the run started)"),
    "getppid": (0, "0 for pid 1; orphans are pid 1's"),
    "gettid": (0, "the thread's id (the first thread is 1)"),
    "getuid": (0, "0"),
    "geteuid": (0, "0"),
    "getgid": (0, "0"),
    "getegid": (0, "0"),
    "getresuid": (3, "all 0"),
    "getresgid": (3, "all 0"),
    "getgroups": (2, "no supplementary groups"),
    "wait4": (4, "children, a pid, the caller's group or another group; WNOHANG; exit and signal statuses (the core bit 0x80 when the child's RLIMIT_CORE allows a core); WUNTRACED and WCONTINUED (stopped and continued children, reported once each); zombies are collected (rusage: the child's and its waited-for children's time, maxrss, faults and context switches, added to the caller's RUSAGE_CHILDREN); -ECHILD without children"),
    "waitid": (5, "P_ALL, P_PID, P_PGID with WEXITED, WSTOPPED, WCONTINUED (WNOHANG, WNOWAIT); siginfo CLD_EXITED/CLD_KILLED/CLD_DUMPED/CLD_STOPPED/CLD_CONTINUED with pid and status; rusage as wait4's"),
    "getpgid": (1, ""),
    "getpgrp": (0, ""),
    "getsid": (1, ""),
    "setpgid": (2, "of itself or a child, within its session"),
    "setsid": (0, "a new session and group (-EPERM for a group leader)"),
    "set_tid_address": (1, "CLONE_CHILD_CLEARTID for the calling thread"),
    "set_robust_list": (2, "walked when the thread exits: held locks become OWNER_DIED"),
    "arch_prctl": (2, "ARCH_SET_FS/GET_FS/SET_GS/GET_GS (x86_64 TLS)"),
    "prctl": (5, "PR_SET_NAME, PR_GET_NAME; PR_SET_PDEATHSIG, PR_GET_PDEATHSIG (the signal arrives when the parent ends)"),
    "uname": (1, "Linux 6.1.0-hermitcore"),
    "prlimit64": (4, "RLIMIT_STACK 8 MiB, RLIMIT_NOFILE 256 (enforced: a lower soft limit gives -EMFILE sooner; a hard limit above 256 -EPERM), RLIMIT_CORE per process (unlimited when the run asked for cores, else 0; below a page no core and no wait status core bit; a core is cut to it as Linux cuts one: whole pieces, holes not counted), others unlimited and accepted"),
    "getrlimit": (2, "as prlimit64"),
    "setrlimit": (2, "as prlimit64"),
    "getrusage": (2, "RUSAGE_SELF, RUSAGE_THREAD, RUSAGE_CHILDREN: user and system time as accounted per thread (the program's between its returns and its next kernel entry, the kernel's the rest of its running time); ru_maxrss the memory's resident high-water mark (kept as pages are mapped; kept across exec); ru_minflt (every fault: all minor), ru_majflt 0, ru_nvcsw (blocked) and ru_nivcsw (preempted) per thread; children's once waited for; other fields 0"),
    "times": (1, "the process's user and system time and its waited-for children's, in 1/100 s; returns ticks since boot"),
    "sysinfo": (1, "RAM from the page allocator"),
    "sched_getaffinity": (3, "every online CPU"),
    "sched_setaffinity": (3, "accepted; placement stays the kernel's (one thread per core)"),
    "sched_yield": (0, "runs the next thread queued on this CPU"),
    "getcpu": (3, "the CPU, node 0"),
    # signals
    "rt_sigaction": (4, "per process; SA_SIGINFO, SA_RESTART, SA_ONSTACK, SA_NODEFER, SA_RESETHAND, SA_RESTORER; unknown flags read back clear; SIG_IGN drops pending instances. Handlers run on every return to the program (system call, interrupt, fault) with Linux's frame (rt_sigframe, siginfo_t, ucontext_t with the FP/SIMD state); default actions: terminate (128 + signal), ignore, stop (the whole process, until SIGCONT; SIGTSTP/SIGTTIN/SIGTTOU do nothing in an orphaned process group, pid 1's)"),
    "rt_sigprocmask": (4, "per thread; SIGKILL and SIGSTOP cannot be blocked"),
    "rt_sigreturn": (0, "restores the interrupted registers, FP/SIMD state, mask and alternate stack"),
    "rt_sigpending": (2, "the thread's and the process's pending signals that are blocked"),
    "rt_sigsuspend": (2, "waits with the given mask until a handler runs (-EINTR)"),
    "pause": (0, "waits until a handler runs (-EINTR)"),
    "rt_sigtimedwait": (4, "takes a pending signal of the set, waiting up to the timeout (-EAGAIN)"),
    "rt_sigqueueinfo": (3, "to the process, with the caller's siginfo (si_code < 0 unless to itself)"),
    "rt_tgsigqueueinfo": (4, "as rt_sigqueueinfo, to one thread"),
    "sigaltstack": (2, "per thread; SS_DISABLE, SS_ONSTACK, SS_AUTODISARM; -EPERM while on it, -ENOMEM below MINSIGSTKSZ"),
    "alarm": (1, "SIGALRM to the process after the seconds; returns the seconds left of the previous one (rounded as Linux)"),
    "setitimer": (3, "ITIMER_REAL (SIGALRM), ITIMER_VIRTUAL (the process's user time: SIGVTALRM), ITIMER_PROF (user + system: SIGPROF); one-shot or periodic; kept across execve"),
    "getitimer": (2, "the time left (on its clock) and interval of each"),
    "timer_create": (3, "CLOCK_REALTIME, MONOTONIC, BOOTTIME, TAI (and the _ALARM forms); the caller's process and thread CPU clocks (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID, clock_getcpuclockid(0)/pthread_getcpuclockid ids; another process's: -EINVAL); SIGEV_SIGNAL to the process (SIGEV_THREAD taken as it, as Linux), SIGEV_THREAD_ID to a thread (glibc's SIGEV_THREAD), SIGEV_NONE; siginfo SI_TIMER with the timer id, overrun and value; 64 timers"),
    "timer_settime": (4, "relative or TIMER_ABSTIME, one-shot or periodic (intervals missed meanwhile count as overruns)"),
    "timer_gettime": (2, ""),
    "timer_getoverrun": (1, ""),
    "timer_delete": (1, ""),
    "signalfd": (3, "as signalfd4 without flags"),
    "signalfd4": (4, "reads the reader's pending signals of the mask as signalfd_siginfo records; polls readable while one is pending; SFD_NONBLOCK, SFD_CLOEXEC; an existing signalfd's mask is replaced"),
    "kill": (2, "pid 1 (the program), 0 or its group: the process (any thread that does not block it takes it); -1: -ESRCH (no other process)"),
    "tkill": (2, "to a thread, interrupting it where it runs or sleeps (an IPI to its CPU): Go's preemption"),
    "tgkill": (3, "as tkill"),
    # time and randomness
    "clock_gettime": (2, "REALTIME (and _COARSE, _ALARM, TAI) from the host's clock at boot plus the monotonic clock; CPU-time clocks: the process's, the thread's and clock_getcpuclockid/pthread_getcpuclockid ids (any process; a thread of the caller's), user + system ns"),
    "clock_getres": (2, "1 ns (CPU-time clocks: -EINVAL for one that names no process or thread)"),
    "clock_nanosleep": (4, "relative and TIMER_ABSTIME; on a CPU-time clock until it reaches the time (CLOCK_THREAD_CPUTIME_ID: -EOPNOTSUPP, the caller's own thread's clock id: -EINVAL, as Linux)"),
    "nanosleep": (2, ""),
    "gettimeofday": (2, ""),
    "time": (1, ""),
    "getrandom": (3, "RDRAND/RNDR when present, else a host-seeded generator"),
    "futex": (6, "WAIT, WAKE, WAIT_BITSET, WAKE_BITSET, REQUEUE, CMP_REQUEUE; relative and absolute timeouts (MONOTONIC, REALTIME); PRIVATE or not"),
}

#: run without the big kernel lock: thread life, futexes, scheduling (they
#: take their own locks, and the big lock only around their accesses to
#: program memory). Everything else holds it; a holder that blocks (sleeps)
#: drops it until it runs again.
UNLOCKED = frozenset({
    "exit", "clone", "futex", "gettid", "getpid", "getppid", "set_tid_address",
    "set_robust_list", "sched_yield", "sched_getaffinity", "sched_setaffinity", "getcpu", "tkill", "tgkill",
    "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigsuspend", "pause", "rt_sigtimedwait",
})

#: not implemented on purpose: -ENOSYS without a report, because the C
#: libraries probe them at start-up and fall back
QUIET_ENOSYS: dict[str, str] = {
    "rseq": "glibc registers restartable sequences when the kernel has them",
    "membarrier": "probed by some runtimes",
    "clone3": "glibc tries it first and falls back to clone",
    "io_uring_setup": "probed by some runtimes",
}

HANDLER_ONLY_ON = {"arch_prctl": "x86_64"}


def table(arch: str) -> dict[int, tuple[str, str | None, int]]:
    """number -> (name, C handler or None, nargs) for every syscall the
    architecture has."""
    numbers = NUMBERS[arch]
    out = {}
    for name, nr in numbers.items():
        handler = None
        nargs = 6
        if name in SYSCALLS and HANDLER_ONLY_ON.get(name, arch) == arch:
            handler = f"sys_{name}"
            nargs = SYSCALLS[name][0]
        out[nr] = (name, handler, nargs)
    return out


def c_source(arch: str) -> str:
    """The kernel's dispatch table for ``arch`` (generated/syscall_table.c)."""
    rows = table(arch)
    size = max(rows) + 1
    handlers = sorted({h for _, h, _ in rows.values() if h})
    lines = [
        f"/* Generated by hermitcore.linux_abi for {arch}. Do not edit. */",
        '#include "linux.h"',
        "",
        *[f"long {h}();" for h in handlers],
        "",
        "const struct syscall_entry syscall_table[] = {",
    ]
    for nr in sorted(rows):
        name, handler, nargs = rows[nr]
        fn = f"(syscall_fn){handler}" if handler else "0"
        quiet = 1 if name in QUIET_ENOSYS else 0
        unlocked = 1 if name in UNLOCKED else 0
        lines.append(f'    [{nr}] = {{"{name}", {fn}, {nargs}, {quiet}, {unlocked}}},')
    lines += ["};", f"const unsigned syscall_count = {size};", ""]
    return "\n".join(lines)


def markdown() -> str:
    arches = list(NUMBERS)
    out = [
        "# Linux system calls in hermitcore",
        "",
        "<!-- Generated by `python -m hermitcore.linux_abi > docs/linux-abi.md` from",
        "     hermitcore/linux_abi.py, the table the kernel is built from. Do not edit. -->",
        "",
        "Programs are static Linux executables (ET_EXEC or static-pie) run in ring 3 / EL0.",
        "Every system call not listed returns `-ENOSYS` and is reported once, by name and",
        "number, on stderr (`hermitcore run --strace` traces every call). See",
        "[linux-programs.md](linux-programs.md) for building programs and the address-space layout.",
        "",
        "| system call | " + " | ".join(f"{a} nr" for a in arches) + " | notes |",
        "| --- | " + " | ".join("---:" for _ in arches) + " | --- |",
    ]
    for name, (_, note) in SYSCALLS.items():
        nrs = []
        for a in arches:
            nr = NUMBERS[a].get(name)
            ok = nr is not None and HANDLER_ONLY_ON.get(name, a) == a
            nrs.append(str(nr) if ok else "—")
        out.append(f"| `{name}` | " + " | ".join(nrs) + f" | {note} |")
    out += [
        "",
        "Quietly unsupported (`-ENOSYS`, not reported, because C libraries probe them and fall back):",
        "",
    ]
    for name, why in QUIET_ENOSYS.items():
        out.append(f"- `{name}`: {why}")
    total = {a: sum(1 for n in SYSCALLS if n in NUMBERS[a] and HANDLER_ONLY_ON.get(n, a) == a) for a in arches}
    out += ["", "Implemented: " + ", ".join(f"{total[a]} on {a}" for a in arches) + ".", ""]
    out += ltp_markdown()
    return "\n".join(out)


def ltp_markdown() -> list[str]:
    """The LTP section: hermitcore/linux_abi_ltp.py's table (generated by
    `python3 -m tests.ltp.abi_table`)."""
    from hermitcore.linux_abi_ltp import LTP

    out = [
        "## LTP per system call",
        "",
        "The Linux Test Project's system-call tests of the families tests/ltp/ltp.py builds",
        "(processes and signals, files), by the call they test: **pass** -- they pass in the",
        "guest on x86_64 and on aarch64 (`tests/integration/test_ltp.py` runs them against",
        "the same binaries on the host); **known failures** -- they pass on the host and not",
        "in the guest (why: below, as `KNOWN_FAILURES` in test_ltp.py says); **not on the",
        "host** -- the host does not pass them either (TCONF: not for that machine or x86",
        "32-bit only; or TBROK: a user, group or file system the host lacks), so they judge",
        "nothing. Generated by `python3 -m tests.ltp.abi_table` from a run on the host, then",
        "`python -m hermitcore.linux_abi > docs/linux-abi.md`.",
        "",
        "| system call | tests | pass | known failures | not on the host |",
        "| --- | ---: | --- | --- | --- |",
    ]
    why: dict[str, str] = {}
    totals = [0, 0, 0]
    for name, row in LTP.items():
        n = len(row["pass"]) + len(row["known"]) + len(row["host"])
        totals[0] += len(row["pass"])
        totals[1] += len(row["known"])
        totals[2] += len(row["host"])
        why.update(row["known"])
        out.append(f"| `{name}` | {n} | {len(row['pass'])}: {' '.join(row['pass']) or '-'} | "
                   f"{' '.join(row['known']) or '-'} | {' '.join(row['host']) or '-'} |")
    out += ["", f"In all {sum(totals)} tests of {len(LTP)} calls: {totals[0]} pass, {totals[1]} known failures, "
            f"{totals[2]} not on the host.", "", "Why the known failures fail:", ""]
    out += [f"- `{t}`: {w}" for t, w in sorted(why.items())]
    out.append("")
    return out


if __name__ == "__main__":
    sys.stdout.write(markdown())
