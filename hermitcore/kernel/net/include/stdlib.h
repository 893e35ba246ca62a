/* lwIP includes <stdlib.h> for malloc/free when MEM_LIBC_MALLOC is set; the
 * port maps those to the kernel heap in lwipopts.h, so nothing is needed. */
#pragma once
#include <stddef.h>
