/* Tables of what device drivers registered for the layers above them:
 * network interfaces (hermit/netdev.h) and 9P channels (hermit/p9.h). */
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

/* --- 9P channels (hermit/p9.h): the same kind of table --- */
#include <hermit/p9.h>

#define MAX_P9 8
static struct p9_channel *chans[MAX_P9];
static unsigned nchans;

int p9_channel_register(struct p9_channel *ch)
{
    if (nchans == MAX_P9)
        return -1;
    chans[nchans++] = ch;
    return 0;
}

struct p9_channel *p9_channel_get(unsigned n)
{
    return n < nchans ? chans[n] : 0;
}
