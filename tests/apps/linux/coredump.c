/* Dies of a core-dumping signal for tests/integration/test_coredump.py:
 * "thread" dereferences NULL in a second thread (the faulting line is
 * marked), "abort" calls abort() in the main thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int *volatile nothing;

static int deepest(int x)
{
    return *nothing + x; /* FAULT HERE */
}

static int deeper(int x) { return deepest(x + 1) * 2; }

static void *crasher(void *arg)
{
    int mark = 4242;
    return (void *)(long)deeper(mark + (int)(long)arg);
}

int main(int argc, char **argv)
{
    int local = 7;
    printf("pid %s, %s\n", getpid() == 1 ? "1" : "other", argc > 1 ? argv[1] : "-");
    fflush(stdout);
    if (argc > 1 && !strcmp(argv[1], "abort"))
        abort();
    pthread_t t;
    pthread_create(&t, 0, crasher, (void *)(long)local);
    pthread_join(t, 0);
    return 0;
}
