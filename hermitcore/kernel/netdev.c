/* The table of network interfaces drivers registered (hermit/netdev.h). */
#include <hermit/netdev.h>

#define MAX_NETDEVS 4
static struct netdev *devs[MAX_NETDEVS];
static unsigned ndevs;

int netdev_register(struct netdev *dev)
{
    if (ndevs == MAX_NETDEVS)
        return -1;
    devs[ndevs++] = dev;
    return 0;
}

struct netdev *netdev_get(unsigned n)
{
    return n < ndevs ? devs[n] : 0;
}
