/* What rand() and random() give: libc's own values, or those of the
 * libraries in LD_PRELOAD (preload.c). */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
	int r = rand();

	printf("rand %d\n", r);
	printf("random %ld\n", random());
	return 0;
}
