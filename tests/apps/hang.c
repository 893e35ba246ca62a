/* Never exits: the host's --timeout must stop it. */
#include <hermit/app.h>

int main(int argc, char **argv)
{
    printf("hanging on purpose\n");
    for (volatile unsigned long i = 0;; i++)
        ;
}
