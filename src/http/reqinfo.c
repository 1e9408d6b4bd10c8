/* Header lookup on the flat request view. Comparison is ASCII-only on purpose: header names
 * are tokens, and the C library's case functions follow the process locale, which a loaded
 * extension may change. */
#include "reqinfo.h"

#include <string.h>

#include "httputil.h"

const http_header_t *reqinfo_header(const reqinfo_t *ri, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < ri->n_headers; i++) {
        const http_header_t *h = &ri->headers[i];
        if (h->name_len != len)
            continue;
        size_t j = 0;
        while (j < len && http_ascii_lower((unsigned char)h->name[j]) ==
                              http_ascii_lower((unsigned char)name[j]))
            j++;
        if (j == len)
            return h;
    }
    return NULL;
}
