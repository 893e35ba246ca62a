/* Files for the host over the kernel log (hermit/blob.h), base64 lines. */
#include <hermit/blob.h>
#include <hermit/console.h>
#include <hermit/string.h>

#define LINE_BYTES 57 /* 76 characters of base64 */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static size_t prefix(char *out, const char *name)
{
    size_t n = 0;
    for (const char *p = "[blob] "; *p; p++)
        out[n++] = *p;
    for (; *name && n < 40; name++)
        out[n++] = *name;
    out[n++] = ' ';
    return n;
}

static void hex(char *out, size_t *n, uint64_t v)
{
    char digits[16];
    int k = 0;
    do {
        digits[k++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    while (k)
        out[(*n)++] = digits[--k];
}

void blob_seek(const char *name, uint64_t offset)
{
    char line[80];
    size_t n = prefix(line, name);
    line[n++] = '@';
    hex(line, &n, offset);
    line[n++] = '\n';
    console_write(line, n);
}

void blob_write(const char *name, const void *data, size_t len)
{
    const unsigned char *p = data;
    char line[128];
    size_t head = prefix(line, name);
    while (len) {
        size_t k = len < LINE_BYTES ? len : LINE_BYTES, n = head;
        for (size_t i = 0; i < k; i += 3) {
            uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < k ? (uint32_t)p[i + 1] << 8 : 0) | (i + 2 < k ? p[i + 2] : 0);
            line[n++] = b64[v >> 18 & 63];
            line[n++] = b64[v >> 12 & 63];
            line[n++] = i + 1 < k ? b64[v >> 6 & 63] : '=';
            line[n++] = i + 2 < k ? b64[v & 63] : '=';
        }
        line[n++] = '\n';
        console_write(line, n);
        p += k;
        len -= k;
    }
}

void blob_end(const char *name, uint64_t size)
{
    char line[80];
    size_t n = prefix(line, name);
    memcpy(line + n, "end ", 4);
    n += 4;
    hex(line, &n, size);
    line[n++] = '\n';
    console_write(line, n);
}
