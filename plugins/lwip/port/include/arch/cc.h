/* lwIP's compiler and platform port for the hermitcore kernel. */
#pragma once
#include <hermit/hermit.h>
#include <hermit/printk.h>

#define LWIP_NO_INTTYPES_H 1
#define X8_F "02x"
#define U16_F "u"
#define S16_F "d"
#define X16_F "x"
#define U32_F "u"
#define S32_F "d"
#define X32_F "x"
#define SZT_F "zu"
#define LWIP_NO_CTYPE_H 1
#define LWIP_NO_UNISTD_H 1

#define LWIP_PLATFORM_DIAG(x) do { printk x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) panic("lwIP assertion failed: %s (%s:%d)", x, __FILE__, __LINE__)

#define lwip_htons(x) __builtin_bswap16(x)
#define lwip_htonl(x) __builtin_bswap32(x)

unsigned hermit_lwip_rand(void);
#define LWIP_RAND() hermit_lwip_rand()
