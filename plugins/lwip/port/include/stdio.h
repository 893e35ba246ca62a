/* lwIP includes <stdio.h> only for diagnostics, which go to printk (cc.h). */
#pragma once
#include <hermit/printk.h>
