/* Sockets in an image without a network stack (the board describes no
 * network card, or the compose left its driver out): socket() says so once
 * and fails like a Linux kernel built without IPv4; nothing else can ever
 * be a socket. */
#include "linux.h"

void net_flush_at_exit(void) {}

long sys_socket(long domain, long type, long protocol)
{
    static int said;
    if (!said++)
        pr_warn("socket(): this image has no network stack (its board describes no network card)\n");
    return -EAFNOSUPPORT;
}

static long not_socket(long fd) { return fd_poll(fd) & POLLNVAL ? -EBADF : -ENOTSOCK; }

long sys_bind(long fd, long a, long l) { return not_socket(fd); }
long sys_listen(long fd, long b) { return not_socket(fd); }
long sys_accept(long fd, long a, long l) { return not_socket(fd); }
long sys_accept4(long fd, long a, long l, long f) { return not_socket(fd); }
long sys_connect(long fd, long a, long l) { return not_socket(fd); }
long sys_shutdown(long fd, long h) { return not_socket(fd); }
long sys_getsockname(long fd, long a, long l) { return not_socket(fd); }
long sys_getpeername(long fd, long a, long l) { return not_socket(fd); }
long sys_setsockopt(long fd, long lv, long n, long v, long l) { return not_socket(fd); }
long sys_getsockopt(long fd, long lv, long n, long v, long l) { return not_socket(fd); }
long sys_sendto(long fd, long b, long n, long f, long a, long l) { return not_socket(fd); }
long sys_recvfrom(long fd, long b, long n, long f, long a, long l) { return not_socket(fd); }
long sys_sendmsg(long fd, long m, long f) { return not_socket(fd); }
long sys_recvmsg(long fd, long m, long f) { return not_socket(fd); }
