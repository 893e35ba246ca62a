/* /init of the Linux-guest network baseline: what a distribution's
 * initramfs would do before the benchmark runs, and nothing more.
 *
 *   netinit MODULE.ko... PROGRAM ARGS...
 *
 * (no "--" between them: Linux ends init's arguments at a second "--").
 * Loads each kernel module in order (finit_module: Debian's cloud kernel
 * builds virtio-mmio and virtio-net as modules), waits for eth0, gives it
 * QEMU user networking's guest address 10.0.2.15/24 with 10.0.2.2 as the
 * default route, brings lo and eth0 up, then execs PROGRAM in place of
 * itself (so the benchmark binary is the guest's PID 1, as elsewhere).
 * Static; built with the same compiler as the benchmark binary. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int fail(const char *what, const char *arg)
{
    fprintf(stderr, "netinit: %s %s: %s\n", what, arg, strerror(errno));
    return 1;
}

static void set_addr(struct sockaddr *sa, const char *ip)
{
    struct sockaddr_in *in = (struct sockaddr_in *)sa;
    memset(in, 0, sizeof *in);
    in->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &in->sin_addr);
}

static int up(int s, const char *name)
{
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strncpy(r.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(s, SIOCGIFFLAGS, &r) < 0)
        return -1;
    r.ifr_flags |= IFF_UP | IFF_RUNNING;
    return ioctl(s, SIOCSIFFLAGS, &r);
}

int main(int argc, char **argv)
{
    int i = 1;
    for (; i < argc && strlen(argv[i]) > 3 && !strcmp(argv[i] + strlen(argv[i]) - 3, ".ko"); i++) {
        int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return fail("open", argv[i]);
        if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST)
            return fail("finit_module", argv[i]);
        close(fd);
    }
    if (i >= argc) {
        fprintf(stderr, "usage: netinit MODULE.ko... PROGRAM ARGS...\n");
        return 2;
    }
    /* The driver probes asynchronously: wait up to 10 s for the interface. */
    for (int tries = 0; !if_nametoindex("eth0"); tries++) {
        if (tries == 1000) {
            errno = ENODEV;
            return fail("waiting for", "eth0");
        }
        nanosleep(&(struct timespec){0, 10000000}, 0);
    }
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strcpy(r.ifr_name, "eth0");
    set_addr(&r.ifr_addr, "10.0.2.15");
    if (ioctl(s, SIOCSIFADDR, &r) < 0)
        return fail("SIOCSIFADDR", "eth0");
    set_addr(&r.ifr_netmask, "255.255.255.0");
    if (ioctl(s, SIOCSIFNETMASK, &r) < 0)
        return fail("SIOCSIFNETMASK", "eth0");
    if (up(s, "lo") < 0 || up(s, "eth0") < 0)
        return fail("SIOCSIFFLAGS", "lo/eth0");
    struct rtentry rt;
    memset(&rt, 0, sizeof rt);
    set_addr(&rt.rt_dst, "0.0.0.0");
    set_addr(&rt.rt_genmask, "0.0.0.0");
    set_addr(&rt.rt_gateway, "10.0.2.2");
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    if (ioctl(s, SIOCADDRT, &rt) < 0)
        return fail("SIOCADDRT", "default via 10.0.2.2");
    close(s);
    printf("netinit: eth0 10.0.2.15/24 up\n");
    fflush(stdout);
    execv(argv[i], argv + i);
    return fail("exec", argv[i]);
}
