/* lwIP includes <stdlib.h> for malloc/free when MEM_LIBC_MALLOC is set (the
 * port maps those to the kernel heap in lwipopts.h) and for atoi, which
 * netif_find uses on interface names ("en0"). */
#pragma once
#include <stddef.h>

static inline int atoi(const char *s)
{
    int v = 0;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return v;
}
