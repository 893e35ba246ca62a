/* The socket system calls: socket() asks the family its domain names
 * (families register themselves with SOCKET_FAMILY, vfs.h), every other
 * call goes to the socket's own operations (file_ops.sock). Without a
 * family for the domain -- an image without a network stack has none --
 * socket() is EAFNOSUPPORT, as from a Linux kernel built without it. */
#include "vfs.h"

extern const struct socket_family __hermit_socket_family_start[], __hermit_socket_family_end[];

long sys_socket(long domain, long type, long protocol)
{
    for (const struct socket_family *f = __hermit_socket_family_start; f < __hermit_socket_family_end; f++)
        if (f->domain == domain)
            return f->create(type, protocol);
    static int said;
    if ((uintptr_t)__hermit_socket_family_start == (uintptr_t)__hermit_socket_family_end && !said++)
        pr_warn("socket(): this image has no network stack (its board describes no network card)\n");
    return -EAFNOSUPPORT;
}

/* The operations of the socket behind fd, or NULL with *err set. */
static const struct socket_ops *ops_of(long fd, long *err)
{
    struct file *f = fd_get(fd);
    const struct socket_ops *ops = f ? f->ops->sock : 0;
    *err = !f ? -EBADF : -ENOTSOCK;
    if (f)
        file_put(f); /* the family's call looks the socket up again, with its own checks */
    return ops;
}

#define CALL(fd, op, ...)                                        \
    do {                                                         \
        long err;                                                \
        const struct socket_ops *ops = ops_of(fd, &err);         \
        return ops ? ops->op(fd, __VA_ARGS__) : err;             \
    } while (0)

long sys_bind(long fd, long a, long l) { CALL(fd, bind, a, l); }
long sys_listen(long fd, long backlog) { CALL(fd, listen, backlog); }
long sys_accept4(long fd, long a, long l, long flags) { CALL(fd, accept4, a, l, flags); }
long sys_accept(long fd, long a, long l) { CALL(fd, accept4, a, l, 0); }
long sys_connect(long fd, long a, long l) { CALL(fd, connect, a, l); }
long sys_shutdown(long fd, long how) { CALL(fd, shutdown, how); }
long sys_getsockname(long fd, long a, long l) { CALL(fd, getsockname, a, l); }
long sys_getpeername(long fd, long a, long l) { CALL(fd, getpeername, a, l); }
long sys_setsockopt(long fd, long lv, long n, long v, long l) { CALL(fd, setsockopt, lv, n, v, l); }
long sys_getsockopt(long fd, long lv, long n, long v, long l) { CALL(fd, getsockopt, lv, n, v, l); }
long sys_sendto(long fd, long b, long n, long f, long a, long l) { CALL(fd, sendto, b, n, f, a, l); }
long sys_recvfrom(long fd, long b, long n, long f, long a, long l) { CALL(fd, recvfrom, b, n, f, a, l); }
long sys_sendmsg(long fd, long m, long f) { CALL(fd, sendmsg, m, f); }
long sys_recvmsg(long fd, long m, long f) { CALL(fd, recvmsg, m, f); }

/* The program ends: each family delivers what it has queued (a
 * unikernel's exit powers the machine off, unlike a process's exit). */
void sockets_flush_at_exit(void)
{
    for (const struct socket_family *f = __hermit_socket_family_start; f < __hermit_socket_family_end; f++)
        if (f->flush_at_exit)
            f->flush_at_exit();
}
