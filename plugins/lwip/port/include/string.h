/* What lwIP needs from <string.h>, from the kernel's own string functions. */
#pragma once
#include <hermit/string.h>
