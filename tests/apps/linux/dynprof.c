/* A dynamic program that spends most of its time in its C library (rand ->
 * random -> random_r): test_profile.py checks those functions are named
 * in the profile, from the libraries' own symbols. */
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    unsigned long sum = 0;
    for (long i = 0; i < 10000000; i++)
        sum += (unsigned long)rand();
    printf("%lu\n", sum);
    return 0;
}
