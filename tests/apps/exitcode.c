/* Exits with the status given as its first argument. */
#include <hermit/app.h>

int main(int argc, char **argv)
{
    int status = 0;
    for (const char *p = argc > 1 ? argv[1] : "0"; *p >= '0' && *p <= '9'; p++)
        status = status * 10 + (*p - '0');
    printf("exiting with %d\n", status);
    return status;
}
