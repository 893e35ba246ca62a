/* The built-in application: greets, echoes its arguments, exits 0. */
#include <hermit/app.h>

int main(int argc, char **argv)
{
    printf("Hello from hermitcore!\n");
    for (int i = 1; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
