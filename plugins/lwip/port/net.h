/* The kernel's TCP/IP stack (stack.c) as the socket layer sees it. The
 * stack needs nothing of the Linux layer: sockets (sockets.c, the AF_INET
 * family of the Linux layer's socket.c) include the stack, never the reverse. */
#pragma once
#include <hermit/errno.h>
#include <hermit/iowait.h>

/* Every call into lwIP holds this lock (interrupts are off in the kernel). */
void net_lock(void);
void net_unlock(void);
/* Bring the first interface up (DHCP unless hermit.ip= was given); once.
 * Returns 0 or -errno (-ENETDOWN: no interface; -ENETUNREACH: no address). */
int net_up(void);
/* Give TCP up to a second to deliver what is queued (the program ended). */
void net_flush(void);
