/* OpenMP probe (gcc -fopenmp -static): a parallel-for reduction with an
 * exact expected sum and the team size, as hermitcore's tests read them. */
#include <omp.h>
#include <stdio.h>

int main(void)
{
    const long n = 2000000;
    long sum = 0;
    int team = 0;
#pragma omp parallel
    {
#pragma omp single
        team = omp_get_num_threads();
    }
#pragma omp parallel for reduction(+ : sum) schedule(static)
    for (long i = 1; i <= n; i++)
        sum += i % 1000;
    long expect = 0;
    for (long i = 1; i <= n; i++)
        expect += i % 1000;
    printf("omp: %d threads of %d procs, sum %ld %s\n", team, omp_get_num_procs(), sum,
           sum == expect ? "exact" : "WRONG");
    return sum == expect ? 0 : 1;
}
