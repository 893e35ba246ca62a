/* /etc files that programs expect and a bare image tree lacks: libc reads
 * passwd and group for getpwuid (whoami, ls -l, Python's getpass), hosts
 * for "localhost" and the machine's own name (Java's getLocalHost fails
 * without it), resolv.conf for DNS. The tree's own files always win: only
 * missing entries are made. */
#include "vfs.h"
#include <hermit/init.h>

#define HOSTNAME UTS_NODENAME

static const struct {
    const char *name, *text;
} defaults[] = {
    {"passwd", "root:x:0:0:root:/root:/bin/sh\n"
               "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
    {"group", "root:x:0:\n"
              "nogroup:x:65534:\n"},
    {"hosts", "127.0.0.1\tlocalhost\n"
              "::1\tlocalhost ip6-localhost ip6-loopback\n"
              "127.0.1.1\t" HOSTNAME "\n"}, /* Debian's address for the machine's name */
    {"hostname", HOSTNAME "\n"},
    /* Debian's, but only the sources a static glibc has built in (it cannot
     * load libnss_db or libnss_nis); musl reads no nsswitch.conf at all. */
    {"nsswitch.conf", "passwd:         files\n"
                      "group:          files\n"
                      "shadow:         files\n"
                      "gshadow:        files\n"
                      "\n"
                      "hosts:          files dns\n"
                      "networks:       files\n"
                      "\n"
                      "protocols:      files\n"
                      "services:       files\n"
                      "ethers:         files\n"
                      "rpc:            files\n"},
};

/* Write data to the new regular file ino through its own file operations,
 * as a program's write would. */
static long write_all(struct inode *ino, const char *data, size_t len)
{
    struct file *f = file_new(ino->fops, ino, NULL, O_WRONLY);
    if (!f)
        return -ENOMEM;
    long rc = ino->ops->open ? ino->ops->open(ino, f) : 0;
    for (uint64_t off = 0; rc >= 0 && off < len;)
        if ((rc = f->ops->write(f, data + off, len - off, &off)) == 0)
            rc = -EIO;
    file_put(f);
    return rc < 0 ? rc : 0;
}

/* Whether dir has `name` (or cannot tell: then leave it be). */
static int exists(struct inode *dir, const char *name)
{
    struct inode *ino;
    long rc = dir->ops->lookup(dir, name, &ino);
    if (!rc)
        inode_put(ino);
    return rc != -ENOENT;
}

/* hermit.dns=A[,B[,C]]: the DNS servers `hermitcore run` knows the guest's
 * network has (QEMU user networking's 10.0.2.3, or --dns), as resolv.conf.
 * hermit.dns=dhcp: the ones the network's DHCP server gives (a tap network
 * without --ip or --dns): the network comes up before the program starts,
 * so its first look at resolv.conf finds them. */
static char resolv_conf[3 * 28 + 1];
static int dns_dhcp, dns_given;
static struct inode *etc_root;  /* the tree's root, once etc_defaults ran */
static int resolv_ours;         /* the tree has no resolv.conf of its own */

static int parse_dns(const char *value)
{
    size_t n = 0;
    while (*value) {
        const char *e = value;
        while (*e && *e != ',')
            e++;
        size_t len = (size_t)(e - value);
        if (!len || len > 15 || n + 11 + len + 1 >= sizeof resolv_conf)
            return -1;
        memcpy(resolv_conf + n, "nameserver ", 11);
        memcpy(resolv_conf + n + 11, value, len);
        n += 11 + len;
        resolv_conf[n++] = '\n';
        value = *e ? e + 1 : e;
    }
    resolv_conf[n] = 0;
    return 0;
}

static int set_dns(const char *value)
{
    if (!strcmp(value, "dhcp")) {
        dns_dhcp = 1;
        return 0;
    }
    dns_given = 1;
    return parse_dns(value);
}
HERMIT_PARAM("hermit.dns=", set_dns);

static void add_file(struct inode *dir, const char *name, const char *text)
{
    if (exists(dir, name))
        return;
    struct inode *ino;
    long rc = dir->ops->create(dir, name, S_IFREG | 0644, 0, NULL, &ino);
    if (rc >= 0) {
        rc = write_all(ino, text, strlen(text));
        inode_put(ino);
        if (rc < 0) /* a truncated passwd would be worse than none */
            dir->ops->unlink(dir, name, 0);
    }
    if (rc < 0)
        pr_warn("/etc/%s: error %ld\n", name, -rc);
}

void etc_defaults(struct inode *root)
{
    inode_get(root);
    etc_root = root;
    if (!exists(root, "root"))
        root->ops->create(root, "root", S_IFDIR | 0700, 0, NULL, NULL); /* passwd's home for root */
    struct inode *etc;
    long rc = root->ops->lookup(root, "etc", &etc);
    if (rc == -ENOENT)
        rc = root->ops->create(root, "etc", S_IFDIR | 0755, 0, NULL, &etc);
    if (rc < 0)
        return;
    if ((etc->mode & S_IFMT) == S_IFDIR) { /* a tree whose /etc is a link or a file keeps it as it is */
        for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
            add_file(etc, defaults[i].name, defaults[i].text);
        resolv_ours = !exists(etc, "resolv.conf");
        if (resolv_conf[0]) /* none without a network: libc then reads "nameserver 127.0.0.1" */
            add_file(etc, "resolv.conf", resolv_conf);
    }
    inode_put(etc);
}

/* The name servers DHCP gave ("A,B", maybe ""), from the network stack: they
 * become /etc/resolv.conf unless `run` named servers or the tree has its own
 * resolv.conf. */
void etc_nameservers(const char *csv)
{
    if (dns_given || parse_dns(csv) < 0)
        return;
    if (!etc_root || !resolv_ours) /* not yet: etc_defaults writes it */
        return;
    struct inode *etc;
    if (etc_root->ops->lookup(etc_root, "etc", &etc) < 0)
        return;
    if ((etc->mode & S_IFMT) == S_IFDIR) {
        if (exists(etc, "resolv.conf"))
            etc->ops->unlink(etc, "resolv.conf", 0);
        if (resolv_conf[0])
            add_file(etc, "resolv.conf", resolv_conf);
    }
    inode_put(etc);
}

/* Before the program starts (loader.c): with hermit.dns=dhcp, bring the
 * network up as the program's first socket would, for resolv.conf. */
int net_up(void) __attribute__((weak)); /* the network stack's, if the image has one */

void etc_network(void)
{
    if (!dns_dhcp || dns_given || !net_up)
        return;
    kernel_lock(); /* as in a system call: DHCP's wait drops it */
    net_up();
    kernel_unlock();
}
