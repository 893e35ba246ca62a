/* API for applications compiled into the kernel image (C sources passed to
 * `hermitcore compose`). Static Linux executables need none of this. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <hermit/hermit.h>
#include <hermit/string.h>

#define printf app_printf
#define exit hermit_exit

int main(int argc, char **argv);
