/* Files for the host (a core dump, a profile) sent over the kernel log:
 * lines "[blob] NAME @OFFSET" (where the next bytes go), "[blob] NAME
 * BASE64" (the bytes, 57 a line) and "[blob] NAME end SIZE" (the file's
 * size: what was skipped stays a hole). `hermitcore run` writes them to
 * the file the user named for NAME (hermitcore/blobs.py) and shows none of
 * these lines. */
#pragma once
#include <stddef.h>
#include <stdint.h>

void blob_seek(const char *name, uint64_t offset);
void blob_write(const char *name, const void *data, size_t n);
void blob_end(const char *name, uint64_t size);
