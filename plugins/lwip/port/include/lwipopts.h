/* lwIP configuration for hermitcore: the raw API without an OS layer
 * (NO_SYS): the kernel's socket layer (kernel/linux/net.c) calls lwIP under
 * one lock and lwIP calls back into it; interrupts feed received frames in;
 * a kernel timer runs lwIP's timeouts. IPv4, TCP, UDP, ICMP, ARP, DHCP. */
#pragma once
#include <hermit/heap.h>

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_DHCP 1
#define DHCP_DOES_ARP_CHECK 0 /* no 0.5-2 s probe before using the lease */
#define LWIP_UDP 1
#define LWIP_TCP 1
#define LWIP_RAW 0
/* lwIP's DNS client only for DHCP's name-server option (it asks for it and
 * keeps the answer): programs resolve names through their libc and
 * /etc/resolv.conf, which the kernel writes from it (stack.c). */
#define LWIP_DNS 1
#define DNS_MAX_SERVERS 3
#define LWIP_IGMP 0
#define LWIP_STATS 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0
#define IP_FORWARD 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1

/* Memory: the kernel heap for everything, no fixed pools. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define mem_clib_malloc kmalloc
#define mem_clib_free kfree
#define mem_clib_calloc(n, size) kzalloc((n) * (size))
#define MEM_ALIGNMENT 8

/* TCP: a 62 KiB window each way without window scaling. */
#define TCP_MSS 1460
#define TCP_WND (44 * TCP_MSS)
#define TCP_SND_BUF (44 * TCP_MSS)
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#define MEMP_NUM_TCP_SEG TCP_SND_QUEUELEN
#define TCP_QUEUE_OOSEQ 1
#define TCP_LISTEN_BACKLOG 1
#define LWIP_TCP_KEEPALIVE 1
#define SO_REUSE 1
#define MEMP_NUM_TCP_PCB 256
#define MEMP_NUM_TCP_PCB_LISTEN 32
#define MEMP_NUM_UDP_PCB 32
#define MEMP_NUM_PBUF 256
#define PBUF_POOL_SIZE 256
#define PBUF_POOL_BUFSIZE 1536
#define LWIP_CHKSUM_ALGORITHM 3

#define LWIP_NETIF_STATUS_CALLBACK 1
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_SINGLE_NETIF 1
