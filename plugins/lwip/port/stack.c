/* The TCP/IP stack: lwIP (Debian's upstream source, fetched at setup, never
 * copied into this repository) glued to the kernel. lwIP runs without an OS
 * layer (NO_SYS): every call into it holds net_lock; received frames enter
 * from the NIC's interrupt; lwIP's timeouts run from a kernel timer. The
 * interface comes up on the program's first socket() -- programs that never
 * use the network pay nothing at boot. */
#include "net.h"
#include <hermit/hermit.h>
#include <hermit/init.h>
#include <hermit/netdev.h>
#include <hermit/sched.h>
#include <hermit/spinlock.h>
#include <hermit/string.h>
#include <hermit/time.h>
#include <lwip/dhcp.h>
#include <lwip/dns.h>
#include <lwip/etharp.h>
#include <lwip/init.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/timeouts.h>
#include <netif/ethernet.h>

#define DHCP_WAIT_NS (5 * NSEC_PER_SEC)
#define MAX_TICK_MS 250

static spinlock_t lock = SPINLOCK_INIT;
static struct netif nif;
static struct netdev *dev;
static int state; /* 0: not started; 1: up; < 0: -errno of the failed bring-up */
static struct timer tick;
static ip4_addr_t opt_ip, opt_mask, opt_gw;
static int have_ip, have_mask, have_gw;
static uint32_t rand_state = 0x2545f491;

void net_lock(void) { spin_lock(&lock); }
void net_unlock(void) { spin_unlock(&lock); }

unsigned hermit_lwip_rand(void)
{
    rand_state ^= rand_state << 13;
    rand_state ^= rand_state >> 17;
    rand_state ^= rand_state << 5;
    return rand_state;
}

u32_t sys_now(void) { return (u32_t)(clock_ns() / NSEC_PER_MSEC); }

static int parse_ip(const char *s, ip4_addr_t *out)
{
    uint32_t parts[4];
    for (int i = 0; i < 4; i++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint32_t v = 0;
        while (*s >= '0' && *s <= '9')
            v = v * 10 + (uint32_t)(*s++ - '0');
        if (v > 255 || (i < 3 && *s++ != '.'))
            return -1;
        parts[i] = v;
    }
    if (*s)
        return -1;
    IP4_ADDR(out, parts[0], parts[1], parts[2], parts[3]);
    return 0;
}

/* hermit.ip=, hermit.mask=, hermit.gateway= (HERMIT_PARAM) */
static int set_ip(const char *value) { return parse_ip(value, &opt_ip) ? -1 : (have_ip = 1, 0); }
HERMIT_PARAM("hermit.ip=", set_ip);
static int set_mask(const char *value) { return parse_ip(value, &opt_mask) ? -1 : (have_mask = 1, 0); }
HERMIT_PARAM("hermit.mask=", set_mask);
static int set_gateway(const char *value) { return parse_ip(value, &opt_gw) ? -1 : (have_gw = 1, 0); }
HERMIT_PARAM("hermit.gateway=", set_gateway);

/* A new connection's SYN for the address pair of one of our connections in
 * TIME-WAIT. lwIP answers it with an ACK of the old connection (to which
 * the peer, e.g. QEMU's slirp, replies RST, which TIME-WAIT ignores), so a
 * client that reuses its port -- Linux does, once it has seen the close --
 * cannot connect for the 2 MSL (2 minutes) that state lasts. RFC 1122
 * 4.2.2.13 lets a TIME-WAIT connection be reopened by a SYN whose sequence
 * number lies beyond everything the old one received; Linux does that
 * (tcp_timewait_state_process), and so do we: the old state is dropped and
 * lwIP sees the SYN as a new connection. Called with net_lock held. */
static void reopen_time_wait(const uint8_t *f, size_t len)
{
    if (len < 14 + 20 || f[12] != 0x08 || f[13] != 0x00) /* IPv4 */
        return;
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4;
    if (ihl < 20 || ip[9] != IP_PROTO_TCP || (ip[6] & 0x3f) || ip[7] || len < 14 + ihl + 20) /* TCP, whole */
        return;
    const uint8_t *th = ip + ihl;
    if ((th[13] & (TCP_SYN | TCP_ACK | TCP_RST)) != TCP_SYN)
        return;
    u16_t sport = (u16_t)(th[0] << 8 | th[1]), dport = (u16_t)(th[2] << 8 | th[3]);
    u32_t seq = (u32_t)th[4] << 24 | (u32_t)th[5] << 16 | (u32_t)th[6] << 8 | th[7], src, dst;
    memcpy(&src, ip + 12, 4);
    memcpy(&dst, ip + 16, 4);
    for (struct tcp_pcb *pcb = tcp_tw_pcbs; pcb; pcb = pcb->next)
        if (pcb->remote_port == sport && pcb->local_port == dport && ip4_addr_get_u32(ip_2_ip4(&pcb->remote_ip)) == src &&
            ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip)) == dst) {
            if (TCP_SEQ_GT(seq, pcb->rcv_nxt))
                tcp_abort(pcb); /* a TIME-WAIT pcb is freed quietly, no RST */
            return;
        }
}

/* A received frame, in the NIC's interrupt. */
static void rx(struct netdev *d, const void *frame, size_t len)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
    if (!p)
        return;
    pbuf_take(p, frame, (u16_t)len);
    net_lock();
    if (tcp_tw_pcbs)
        reopen_time_wait(frame, len);
    if (nif.input(p, &nif) != ERR_OK)
        pbuf_free(p);
    net_unlock();
}

static err_t linkoutput(struct netif *n, struct pbuf *p)
{
    struct netdev_seg segs[16];
    unsigned k = 0;
    for (struct pbuf *q = p; q && k < 16; q = q->next)
        segs[k++] = (struct netdev_seg){q->payload, q->len};
    for (int tries = 0; tries < 1000; tries++) { /* a full ring drains within microseconds */
        if (dev->xmit(dev, segs, k) == 0)
            return ERR_OK;
        arch_cpu_relax();
    }
    return ERR_MEM;
}

static err_t nic_init(struct netif *n)
{
    n->name[0] = 'e';
    n->name[1] = 'n';
    n->mtu = (u16_t)dev->mtu;
    n->hwaddr_len = 6;
    memcpy(n->hwaddr, dev->mac, 6);
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    n->output = etharp_output;
    n->linkoutput = linkoutput;
    return ERR_OK;
}

static void status_changed(struct netif *n) { io_notify(); }

static void tick_fn(struct timer *t, void *arg)
{
    net_lock();
    sys_check_timeouts();
    u32_t ms = sys_timeouts_sleeptime();
    net_unlock();
    if (ms > MAX_TICK_MS)
        ms = MAX_TICK_MS;
    timer_add(&tick, clock_ns() + (uint64_t)(ms ? ms : 1) * NSEC_PER_MSEC, tick_fn, 0);
}

static void log_address(const char *how, uint64_t t0)
{
    char ip[16], mask[16], gw[16];
    ip4addr_ntoa_r(netif_ip4_addr(&nif), ip, sizeof ip);
    ip4addr_ntoa_r(netif_ip4_netmask(&nif), mask, sizeof mask);
    ip4addr_ntoa_r(netif_ip4_gw(&nif), gw, sizeof gw);
    pr_info("net: %s up, address %s netmask %s gateway %s (%s, %llu ms)\n", dev->where, ip, mask, gw, how,
            (unsigned long long)((clock_ns() - t0) / NSEC_PER_MSEC));
}

/* The Linux layer's /etc/resolv.conf (etc.c); absent from an image without it. */
void etc_nameservers(const char *csv) __attribute__((weak));

/* The name servers the DHCP server gave (option 6), for /etc/resolv.conf. */
static void dhcp_nameservers(void)
{
    char csv[3 * 16];
    size_t n = 0;
    net_lock();
    for (u8_t i = 0; i < DNS_MAX_SERVERS; i++) {
        const ip_addr_t *a = dns_getserver(i);
        if (ip_addr_isany(a))
            continue;
        if (n)
            csv[n++] = ',';
        ip4addr_ntoa_r(ip_2_ip4(a), csv + n, sizeof csv - n);
        n += strlen(csv + n);
    }
    net_unlock();
    csv[n] = 0;
    if (n)
        pr_info("net: %s: name servers from DHCP: %s\n", dev->where, csv);
    if (etc_nameservers)
        etc_nameservers(csv);
}

static int bring_up(void)
{
    uint64_t t0 = clock_ns();
    dev = netdev_get(0);
    if (!dev) {
        pr_warn("net: the program asked for a socket, but this machine has no network interface "
                "(the board describes none, or the run had --net none)\n");
        return -ENETDOWN;
    }
    net_lock();
    lwip_init();
    ip4_addr_t mask = opt_mask;
    if (have_ip && !have_mask)
        IP4_ADDR(&mask, 255, 255, 255, 0);
    netif_add(&nif, have_ip ? &opt_ip : IP4_ADDR_ANY4, &mask, have_gw ? &opt_gw : IP4_ADDR_ANY4, 0,
              nic_init, ethernet_input);
    netif_set_default(&nif);
    netif_set_status_callback(&nif, status_changed);
    netif_set_up(&nif);
    netif_set_link_up(&nif);
    dev->rx = rx;
    if (!have_ip)
        dhcp_start(&nif);
    net_unlock();
    dev->start(dev);
    tick_fn(&tick, 0);
    if (have_ip) {
        log_address("static", t0);
        return 0;
    }
    uint64_t deadline = t0 + DHCP_WAIT_NS;
    for (;;) {
        net_lock();
        uint64_t seq = io_seq();
        int bound = dhcp_supplied_address(&nif);
        net_unlock();
        if (bound)
            break;
        if (io_wait(seq, deadline) == -ETIMEDOUT) {
            pr_warn("net: %s: no DHCP answer within %llu s (link %s); give an address with --ip\n", dev->where,
                    (unsigned long long)(DHCP_WAIT_NS / NSEC_PER_SEC), dev->link_up ? "up" : "down");
            return -ENETUNREACH;
        }
    }
    log_address("DHCP", t0);
    dhcp_nameservers();
    return 0;
}

void net_flush(void)
{
    if (state != 1)
        return;
    uint64_t deadline = clock_ns() + NSEC_PER_SEC;
    for (;;) {
        int pending = 0;
        net_lock();
        for (struct tcp_pcb *p = tcp_active_pcbs; p && !pending; p = p->next)
            pending = p->unsent || p->unacked;
        net_unlock();
        if (!pending || clock_ns() >= deadline)
            return;
        sched_sleep_until(clock_ns() + NSEC_PER_MSEC);
    }
}

int net_up(void)
{
    /* Callers hold the big kernel lock, which DHCP's wait drops: a second
     * thread waits for the first one's bring-up instead of starting another. */
    while (state == 2) {
        uint64_t seq = io_seq();
        if (state == 2)
            io_wait(seq, 0);
    }
    if (!state) {
        state = 2;
        int r = bring_up();
        state = r ? r : 1;
        io_notify();
    }
    return state < 0 ? state : 0;
}
