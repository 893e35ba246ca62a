/* An LD_PRELOAD library (tests/integration/test_dynamic.py): its rand()
 * comes before libc's, so preloadprobe prints "rand 42"; built with
 * -DSECOND it replaces random() instead ("random 7"), so that a list of
 * two preloads shows both were loaded. */
#include <stdlib.h>

#ifndef SECOND
int rand(void)
{
	return 42;
}
#else
long random(void)
{
	return 7;
}
#endif
