/* statfs/fstatfs probe: for each path argument, the file system's type,
 * block size, whether it has blocks, read-only, name length; then fd 0's
 * type and fstatfs of a closed fd. tests/integration/test_hostfs.py runs it
 * on the host and in the guest. */
#include <stdio.h>
#include <sys/vfs.h>
#include <fcntl.h>
#include <errno.h>
#include <string.h>
int main(int argc, char **argv) {
    struct statfs s;
    for (int i = 1; i < argc; i++) {
        if (statfs(argv[i], &s)) { printf("%s: %s\n", argv[i], strerror(errno)); continue; }
        printf("%s: type %#lx bsize %ld blocks>0 %d ro %d namelen %ld\n", argv[i], (long)s.f_type, (long)s.f_bsize, s.f_blocks > 0, (int)(s.f_flags & 1), (long)s.f_namelen);
    }
    if (fstatfs(0, &s) == 0) printf("fd0: type %#lx\n", (long)s.f_type);
    if (fstatfs(99, &s)) printf("fd99: %s\n", strerror(errno));
    return 0;
}
