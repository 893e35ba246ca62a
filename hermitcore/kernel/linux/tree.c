/* The file tree a program starts with:
 *
 *   /          the image's files (--files/--initrd) and the program: a tmpfs whose files
 *              keep their bytes in the image until written (--read-only:
 *              mounted read-only instead)
 *   /dev       devtmpfs: null, zero, full, random, urandom, tty, console,
 *              std{in,out,err} and fd links; /dev/shm a tmpfs
 *   /proc /sys generated files
 *   /tmp /run  tmpfs, each bounded (hermit.tmpfs_size, default half of RAM)
 *   /etc       defaults for the files the image lacks (passwd, hosts...)
 *   --mount    host directories over 9P, last: they cover what they mount on
 *
 * and fds 0-2, the host command's standard streams. */
#include "vfs.h"
#include <hermit/init.h>
#include <hermit/stdio.h>

static int read_only;
static unsigned long tmpfs_size;

static int set_read_only(const char *value)
{
    read_only = value[0] == '1';
    return value[0] == '0' || value[0] == '1' ? 0 : -1;
}
HERMIT_PARAM("hermit.ro=", set_read_only);

static int set_tmpfs_size(const char *value)
{
    unsigned long n = 0;
    for (; *value >= '0' && *value <= '9'; value++)
        n = n * 10 + (unsigned long)(*value - '0');
    tmpfs_size = n;
    return *value ? -1 : 0;
}
HERMIT_PARAM("hermit.tmpfs_size=", set_tmpfs_size);

/* The program's working directory (run --cwd; an OCI spec's process.cwd),
 * made if missing, as runc does. */
static char start_dir[256];
static int set_cwd(const char *value)
{
    size_t n = strlen(value);
    if (value[0] != '/' || n >= sizeof start_dir)
        return -1;
    memcpy(start_dir, value, n + 1);
    return 0;
}
HERMIT_PARAM("hermit.cwd=", set_cwd);

static const char *program;
static size_t tree_entries; /* the image's tree: what a lack of memory is about */

static void no_memory(void)
{
    pr_warn("cannot start %s: no memory for its file tree (%zu entries; give it more with --mem)\n", program,
            tree_entries);
    hermit_exit(127);
}

static void must(long rc, const char *what)
{
    if (rc == -ENOMEM)
        no_memory(); /* the tree took (nearly) all of it */
    if (rc < 0) {
        pr_warn("cannot set up the file tree: %s: error %ld\n", what, -rc);
        hermit_exit(127);
    }
}

static void mount_new(const char *path, struct superblock *sb)
{
    if (!sb)
        no_memory();
    must(vfs_mkdir_p(path), path);
    must(vfs_mount(path, sb), path);
}

void vfs_init(const void *archive, size_t size, const char *exe_path, const void *exe, size_t exe_size)
{
    unsigned long bound = tmpfs_size ? tmpfs_size : pages_total() * PAGE_SIZE / 2;
    program = exe_path;
    struct superblock *root = tmpfs_new("rootfs", 0, S_IFDIR | 0755, archive, size);
    size_t entries = 0;
    int nomem = !root;
    if (root)
        entries = tmpfs_entries(root, &tree_entries, &nomem);
    if (nomem)
        no_memory();
    /* the program is a file of the tree, as on Linux (/proc/self/exe opens it) */
    tmpfs_add_image_file(root, exe_path + 1, exe, exe_size, 0755);
    must(vfs_mount("/", root), "/");
    vfs_set_cwd(root->root, "/");
    etc_defaults(root->root); /* before any mount: into the image's own /etc */
    if (read_only)
        root->flags |= SB_RDONLY;
    mount_new("/dev", devfs_new());
    mount_new("/dev/shm", tmpfs_new("shm", bound, S_IFDIR | 01777, 0, 0));
    mount_new("/proc", procfs_new());
    mount_new("/sys", sysfs_new());
    mount_new("/tmp", tmpfs_new("tmpfs", bound, S_IFDIR | 01777, 0, 0));
    mount_new("/run", tmpfs_new("tmpfs", bound, S_IFDIR | 0755, 0, 0));
    p9_mount_all();
    if (start_dir[0]) {
        static char abs[PATH_MAX];
        struct inode *dir;
        long rc = vfs_mkdir_p(start_dir);
        if (rc == 0 || rc == -EEXIST)
            rc = vfs_lookup(vfs_cwd(), start_dir, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &dir, abs);
        must(rc, start_dir);
        vfs_set_cwd(dir, abs);
        inode_put(dir);
    }
    for (int s = 0; s < STDIO_STREAMS; s++) {
        struct file *f = stdio_file(s);
        if (!f || fd_alloc(f, 0, s) != s)
            no_memory();
    }
    pr_info("files: %zu entries, %zu KiB, %s\n", entries, size / 1024,
            read_only ? "read-only" : "writable (in memory)");
}
