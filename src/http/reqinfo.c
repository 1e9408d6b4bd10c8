/* Header lookup on the flat request view. Comparison is ASCII-only on purpose: header names
 * are tokens, and the C library's case functions follow the process locale, which a loaded
 * extension may change. */
#include "reqinfo.h"

#include <string.h>

#include "httputil.h"

bool http_header_named(const http_header_t *h, const char *name, size_t len)
{
    if (h->name_len != len)
        return false;
    for (size_t j = 0; j < len; j++)
        if (http_ascii_lower((unsigned char)h->name[j]) != http_ascii_lower((unsigned char)name[j]))
            return false;
    return true;
}

const http_header_t *reqinfo_header(const reqinfo_t *ri, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < ri->n_headers; i++)
        if (http_header_named(&ri->headers[i], name, len))
            return &ri->headers[i];
    return NULL;
}
