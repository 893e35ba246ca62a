/* A dynamically linked program, run the same on the host and in the guest
 * (tests/integration/test_dynamic.py compares the bytes): the interpreter
 * and auxiliary vector, libc through the dynamic linker, the vDSO's clock,
 * dlopen/dlsym of a module with its own dependency and thread-local
 * storage, threads, and fork + exec of itself. Prints nothing that differs
 * between machines (no addresses, no times, no paths).
 *
 *     dynprobe /path/to/libdynmod.so */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int dynprobe_counter;

static int (*tls_bump)(int);

static void *worker(void *arg)
{
    /* every thread has its own copy of the module's TLS variable */
    int a = tls_bump((int)(long)arg), b = tls_bump(1);
    return (void *)(long)(a * 100 + b);
}

static int vdso_has(const char *name)
{
    /* the vDSO is one of the loaded objects glibc lists */
    void *h = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
    int found = h && dlsym(h, name) != 0;
    if (h)
        dlclose(h);
    return found;
}

static int count_objects(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info, (void)size;
    ++*(int *)data;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "child")) {
        printf("child: exec'd again, counter %d\n", dynprobe_counter);
        return 5;
    }
    setvbuf(stdout, 0, _IONBF, 0);
    printf("interpreter loaded: AT_BASE %s, AT_ENTRY %s, AT_PHDR %s\n", getauxval(AT_BASE) ? "set" : "0",
           getauxval(AT_ENTRY) ? "set" : "0", getauxval(AT_PHDR) ? "set" : "0");
    printf("AT_PAGESZ %lu, AT_SECURE %lu, AT_RANDOM %s, AT_EXECFN %s\n", getauxval(AT_PAGESZ), getauxval(AT_SECURE),
           getauxval(AT_RANDOM) ? "set" : "0", getauxval(AT_EXECFN) ? "set" : "0");
    printf("vdso: AT_SYSINFO_EHDR %s, clock_gettime %s\n", getauxval(AT_SYSINFO_EHDR) ? "set" : "0",
#if defined(__x86_64__)
           vdso_has("__vdso_clock_gettime") ? "found" : "missing"
#else
           vdso_has("__kernel_clock_gettime") ? "found" : "missing"
#endif
    );
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < 1000; i++)
        clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("monotonic clock never goes back: %s\n",
           t1.tv_sec > t0.tv_sec || (t1.tv_sec == t0.tv_sec && t1.tv_nsec >= t0.tv_nsec) ? "yes" : "no");
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    printf("realtime after 2020: %s, time() agrees: %s\n", rt.tv_sec > 1577836800 ? "yes" : "no",
           labs((long)time(0) - (long)rt.tv_sec) <= 1 ? "yes" : "no");

    void *m = argc > 1 ? dlopen(argv[1], RTLD_NOW) : 0;
    if (!m) {
        printf("dlopen of the module failed (give its path)\n");
        return 1;
    }
    int (*constructed)(void) = (int (*)(void))dlsym(m, "dynmod_constructed");
    double (*hyp)(double, double) = (double (*)(double, double))dlsym(m, "dynmod_hypot");
    tls_bump = (int (*)(int))dlsym(m, "dynmod_tls_bump");
    printf("dlopen: constructor %d, hypot(3, 4) = %.1f, missing symbol: %s\n", constructed(), hyp(3, 4),
           dlsym(m, "no_such_symbol") ? "found" : "NULL");
    pthread_t th[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&th[i], 0, worker, (void *)(i + 1));
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(th[i], &r);
        printf("thread %d: tls %ld\n", i, (long)r);
    }
    int mine = tls_bump(0);
    printf("main thread tls %d, counter %d\n", mine, dynprobe_counter);
    int objects = 0;
    dl_iterate_phdr(count_objects, &objects);
    printf("loaded objects >= 5: %s\n", objects >= 5 ? "yes" : "no");
    printf("dlopen of a missing library fails: %s\n", dlopen("libnothere.so.9", RTLD_NOW) ? "no" : "yes");

    pid_t pid = fork();
    if (pid == 0) {
        execl("/proc/self/exe", argv[0], "child", (char *)0);
        _exit(127);
    }
    int status;
    waitpid(pid, &status, 0);
    printf("fork + exec: status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return 0;
}
