/* Server variables. A name resolves to a value_t (a plain string, or a recipe over the request
 * headers for ALL_HTTP, ALL_RAW and HTTP_/HEADER_ lookups); the value is then emitted twice into
 * a sink: once to measure, once to copy. Nothing is allocated, and the caller's buffer is never
 * written unless the whole value fits: extensions that ignore the return value then still read
 * whatever they put there, never a truncated, unterminated string.
 *
 * IIS's whole list is answered. Values that do not apply to this server (TLS client
 * certificates, authentication, IIS configuration paths) are "" rather than errors: IIS-era
 * extensions query them unconditionally and treat a failure as fatal or as "absent".
 * HTTP_/HEADER_ names of headers the request does not carry fail with ERROR_INVALID_INDEX, as in
 * IIS: real extensions treat only that code as "absent" and any other failure as fatal. */
#include "servervars.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <windows.h> /* the SDK's: Win32 error numbers */

/* IIS names its default site, pool and pipeline this way; extensions that log or branch on
 * these expect IIS's defaults, and this server hosts exactly one site. */
#define SITE_NAME "Default Web Site"
#define APP_POOL_NAME "DefaultAppPool"
#define PIPELINE_MODE "Integrated"

/* Must stay in strcmp order: the table is searched with bsearch. */
#define SERVER_VARIABLES(X)                                                                   \
    X(ALL_HTTP) X(ALL_RAW) X(APPL_MD_PATH) X(APPL_PHYSICAL_PATH) X(APP_POOL_CONFIG)           \
    X(APP_POOL_ID) X(AUTH_PASSWORD) X(AUTH_TYPE) X(AUTH_USER) X(CACHE_URL) X(CERT_COOKIE)     \
    X(CERT_FLAGS) X(CERT_ISSUER) X(CERT_KEYSIZE) X(CERT_SECRETKEYSIZE) X(CERT_SERIALNUMBER)   \
    X(CERT_SERVER_ISSUER) X(CERT_SERVER_SUBJECT) X(CERT_SUBJECT) X(CONTENT_LENGTH)            \
    X(CONTENT_TYPE) X(CRYPT_CIPHER_ALG_ID) X(CRYPT_HASH_ALG_ID) X(CRYPT_KEYEXCHANGE_ALG_ID)   \
    X(CRYPT_PROTOCOL) X(DOCUMENT_ROOT) X(FORWARDED_URL) X(GATEWAY_INTERFACE) X(HTTPS)         \
    X(HTTPS_KEYSIZE) X(HTTPS_SECRETKEYSIZE) X(HTTPS_SERVER_ISSUER) X(HTTPS_SERVER_SUBJECT)    \
    X(HTTP_METHOD) X(HTTP_URL) X(HTTP_VERSION) X(INSTANCE_ID) X(INSTANCE_META_PATH)           \
    X(INSTANCE_NAME) X(LOCAL_ADDR) X(LOGON_USER) X(MANAGED_PIPELINE_MODE) X(PATH_INFO)        \
    X(PATH_TRANSLATED) X(QUERY_STRING) X(REMOTE_ADDR) X(REMOTE_HOST) X(REMOTE_PORT)           \
    X(REMOTE_USER) X(REQUEST_FILENAME) X(REQUEST_FLAGS) X(REQUEST_METHOD) X(REQUEST_URI)      \
    X(SCRIPT_FILENAME) X(SCRIPT_NAME) X(SCRIPT_TRANSLATED) X(SERVER_ADDR) X(SERVER_NAME)      \
    X(SERVER_PORT) X(SERVER_PORT_SECURE) X(SERVER_PROTOCOL) X(SERVER_SOFTWARE)                \
    X(UNENCODED_URL) X(UNMAPPED_REMOTE_USER) X(URL)

typedef enum {
#define SV_ENUM(n) SV_##n,
    SERVER_VARIABLES(SV_ENUM)
#undef SV_ENUM
} sv_id_t;

typedef struct {
    const char *name;
    sv_id_t id;
} sv_entry_t;

static const sv_entry_t sv_table[] = {
#define SV_ENTRY(n) {#n, SV_##n},
    SERVER_VARIABLES(SV_ENTRY)
#undef SV_ENTRY
};

typedef enum {
    V_STR,      /* s, n */
    V_ALL_HTTP,
    V_ALL_RAW,
    V_HEADER,   /* every header matching hname (http_form: HTTP_<NAME> matching), values joined */
} vkind_t;

typedef struct {
    vkind_t kind;
    const char *s;
    size_t n;
    const char *hname;
    size_t hname_len;
    bool http_form;
    bool cookie;      /* join with "; " instead of ", " */
    char num[48];     /* storage for formatted values; s may point here */
} value_t;

/* Output: measures when p is NULL. In wide mode the bytes given are UTF-8 and come out as
 * UTF-16LE; each call to sink_put is a whole string, so a sequence cut at its end is invalid
 * and becomes U+FFFD like any other bad byte. */
typedef struct {
    unsigned char *p;
    size_t len;
    bool wide;
} sink_t;

static inline unsigned char ascii_upper(unsigned char c)
{
    return (c >= 'a' && c <= 'z') ? (unsigned char)(c - ('a' - 'A')) : c;
}

/* One code point from p (n > 0). Invalid input yields U+FFFD per maximal ill-formed subpart
 * (Unicode §3.9, "substitution of maximal subparts"): overlongs, surrogates and values above
 * U+10FFFF are rejected by narrowing the range of the second byte. */
static size_t utf8_next(const unsigned char *p, size_t n, uint32_t *cp)
{
    unsigned char b = p[0], lo = 0x80, hi = 0xBF;
    size_t need;
    uint32_t c;

    if (b < 0x80) {
        *cp = b;
        return 1;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        need = 1;
        c = b & 0x1Fu;
    } else if (b >= 0xE0 && b <= 0xEF) {
        need = 2;
        c = b & 0x0Fu;
        if (b == 0xE0)
            lo = 0xA0;
        else if (b == 0xED)
            hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
        need = 3;
        c = b & 0x07u;
        if (b == 0xF0)
            lo = 0x90;
        else if (b == 0xF4)
            hi = 0x8F;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    size_t i;
    for (i = 1; i <= need; i++) {
        if (i >= n || p[i] < lo || p[i] > hi) {
            *cp = 0xFFFD;
            return i;
        }
        c = (c << 6) | (p[i] & 0x3Fu);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = c;
    return i;
}

static void put_unit(sink_t *s, uint32_t u)
{
    if (s->p) {
        s->p[s->len] = (unsigned char)(u & 0xFF);
        s->p[s->len + 1] = (unsigned char)(u >> 8);
    }
    s->len += 2;
}

static void sink_put(sink_t *s, const char *str, size_t n)
{
    if (!s->wide) {
        if (s->p)
            memcpy(s->p + s->len, str, n);
        s->len += n;
        return;
    }
    const unsigned char *u = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        uint32_t cp;
        i += utf8_next(u + i, n - i, &cp);
        if (cp >= 0x10000) {
            cp -= 0x10000;
            put_unit(s, 0xD800 + (cp >> 10));
            put_unit(s, 0xDC00 + (cp & 0x3FF));
        } else {
            put_unit(s, cp);
        }
    }
}

static inline void sink_puts(sink_t *s, const char *str)
{
    sink_put(s, str, strlen(str));
}

/* Decimal digits of v at the end of out[0..24), returns the start. */
static char *fmt_u64(uint64_t v, char out[24])
{
    char *p = out + 23;
    *p = '\0';
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static void set_str(value_t *v, const char *s)
{
    v->kind = V_STR;
    v->s = s;
    v->n = strlen(s);
}

static void set_u64(value_t *v, uint64_t x)
{
    char tmp[24];
    set_str(v, strcpy(v->num, fmt_u64(x, tmp)));
}

/* HTTP_<NAME>: the header name upper-cased with '-' read as '_' equals NAME. */
static bool match_http(const http_header_t *h, const char *name, size_t len)
{
    if (h->name_len != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = ascii_upper((unsigned char)h->name[i]);
        if ((c == '-' ? '_' : c) != (unsigned char)name[i])
            return false;
    }
    return true;
}

static bool ascii_ieq(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (ascii_upper((unsigned char)a[i]) != ascii_upper((unsigned char)b[i]))
            return false;
    return true;
}

static bool match_raw(const http_header_t *h, const char *name, size_t len)
{
    return ascii_ieq(h->name, h->name_len, name, len);
}

static bool header_matches(const value_t *v, const http_header_t *h)
{
    return v->http_form ? match_http(h, v->hname, v->hname_len)
                        : match_raw(h, v->hname, v->hname_len);
}

static int cmp_entry(const void *key, const void *elem)
{
    return strcmp(key, ((const sv_entry_t *)elem)->name);
}

/* A request header family lookup; ERROR_INVALID_INDEX when no header matches (IIS's answer). */
static uint32_t resolve_header(const reqinfo_t *ri, const char *hname, bool http_form, value_t *v)
{
    v->kind = V_HEADER;
    v->hname = hname;
    v->hname_len = strlen(hname);
    v->http_form = http_form;
    if (v->hname_len == 0)
        return ERROR_INVALID_INDEX;
    v->cookie = http_form ? strcmp(hname, "COOKIE") == 0
                          : ascii_ieq(hname, v->hname_len, "Cookie", 6);
    for (size_t i = 0; i < ri->n_headers; i++)
        if (header_matches(v, &ri->headers[i]))
            return ERROR_SUCCESS;
    return ERROR_INVALID_INDEX;
}

static uint32_t resolve(const reqinfo_t *ri, const char *name, value_t *v)
{
    const sv_entry_t *e = bsearch(name, sv_table, sizeof sv_table / sizeof sv_table[0],
                                  sizeof sv_table[0], cmp_entry);
    if (!e) {
        /* The fixed names HTTP_METHOD, HTTP_URL and HTTP_VERSION were found above, so they
         * shadow headers named Method, Url or Version, as in IIS. */
        if (strncmp(name, "HTTP_", 5) == 0)
            return resolve_header(ri, name + 5, true, v);
        if (strncmp(name, "HEADER_", 7) == 0)
            return resolve_header(ri, name + 7, false, v);
        return ERROR_INVALID_INDEX;
    }

    switch (e->id) {
    case SV_ALL_HTTP:
        v->kind = V_ALL_HTTP;
        break;
    case SV_ALL_RAW:
        v->kind = V_ALL_RAW;
        break;

    case SV_REQUEST_METHOD:
    case SV_HTTP_METHOD:
        set_str(v, ri->method);
        break;
    case SV_URL:
        /* IIS: the URL of the extension (or mapped file) without its path info, as SCRIPT_NAME
         * ("/s/x.dll" for "/s/x.dll/a/b"); the whole path only where nothing was mapped. */
        set_str(v, ri->script_name[0] ? ri->script_name : ri->path);
        break;
    case SV_HTTP_URL:
    case SV_UNENCODED_URL:
    case SV_REQUEST_URI:
    case SV_CACHE_URL:
        set_str(v, ri->raw_target);
        break;
    case SV_QUERY_STRING:
        set_str(v, ri->query);
        break;
    case SV_SERVER_PROTOCOL:
    case SV_HTTP_VERSION: {
        char a[24], b[24];
        strcpy(v->num, "HTTP/");
        strcat(v->num, fmt_u64(ri->http_major, a));
        strcat(v->num, ".");
        strcat(v->num, fmt_u64(ri->http_minor, b));
        set_str(v, v->num);
        break;
    }
    case SV_CONTENT_LENGTH:
        /* A chunked body has no length until it has been read; we do not synthesise one. */
        if (ri->has_content_length)
            set_u64(v, ri->content_length);
        else
            set_str(v, "");
        break;
    case SV_CONTENT_TYPE:
        set_str(v, ri->content_type);
        break;

    case SV_SCRIPT_NAME:
        set_str(v, ri->script_name);
        break;
    case SV_SCRIPT_FILENAME:
    case SV_SCRIPT_TRANSLATED:
    case SV_REQUEST_FILENAME:
        set_str(v, ri->script_filename);
        break;
    case SV_PATH_INFO:
        set_str(v, ri->path_info);
        break;
    case SV_PATH_TRANSLATED:
        set_str(v, ri->path_translated);
        break;
    case SV_DOCUMENT_ROOT:
        set_str(v, ri->document_root);
        break;
    case SV_APPL_PHYSICAL_PATH:
        set_str(v, ri->appl_physical_path);
        break;

    case SV_REMOTE_ADDR:
    case SV_REMOTE_HOST: /* no reverse DNS, as IIS without EnableReverseDNS */
        set_str(v, ri->remote_addr);
        break;
    case SV_REMOTE_PORT:
        set_u64(v, ri->remote_port);
        break;
    case SV_LOCAL_ADDR:
    case SV_SERVER_ADDR:
        set_str(v, ri->local_addr);
        break;
    case SV_SERVER_NAME:
        set_str(v, ri->server_name);
        break;
    case SV_SERVER_PORT:
        set_u64(v, ri->local_port);
        break;
    case SV_SERVER_PORT_SECURE:
        set_str(v, ri->https ? "1" : "0");
        break;
    case SV_HTTPS:
        set_str(v, ri->https ? "on" : "off");
        break;
    case SV_SERVER_SOFTWARE:
        set_str(v, ri->server_software);
        break;
    case SV_GATEWAY_INTERFACE:
        set_str(v, "CGI/1.1");
        break;

    case SV_INSTANCE_ID:
        set_u64(v, ri->instance_id);
        break;
    case SV_INSTANCE_META_PATH:
    case SV_APPL_MD_PATH: {
        char tmp[24];
        strcpy(v->num, "/LM/W3SVC/");
        strcat(v->num, fmt_u64(ri->instance_id, tmp));
        if (e->id == SV_APPL_MD_PATH)
            strcat(v->num, "/ROOT");
        set_str(v, v->num);
        break;
    }
    case SV_INSTANCE_NAME:
        set_str(v, SITE_NAME);
        break;
    case SV_APP_POOL_ID:
        set_str(v, APP_POOL_NAME);
        break;
    case SV_MANAGED_PIPELINE_MODE:
        set_str(v, PIPELINE_MODE);
        break;

    /* Bit masks whose "nothing set" value is meaningful: no client certificate, no flags. */
    case SV_CERT_FLAGS:
    case SV_REQUEST_FLAGS:
        set_str(v, "0");
        break;

    /* No authentication, no TLS details, no IIS configuration files, no forwarding. */
    case SV_APP_POOL_CONFIG:
    case SV_AUTH_PASSWORD:
    case SV_AUTH_TYPE:
    case SV_AUTH_USER:
    case SV_LOGON_USER:
    case SV_REMOTE_USER:
    case SV_UNMAPPED_REMOTE_USER:
    case SV_CERT_COOKIE:
    case SV_CERT_ISSUER:
    case SV_CERT_KEYSIZE:
    case SV_CERT_SECRETKEYSIZE:
    case SV_CERT_SERIALNUMBER:
    case SV_CERT_SERVER_ISSUER:
    case SV_CERT_SERVER_SUBJECT:
    case SV_CERT_SUBJECT:
    case SV_CRYPT_CIPHER_ALG_ID:
    case SV_CRYPT_HASH_ALG_ID:
    case SV_CRYPT_KEYEXCHANGE_ALG_ID:
    case SV_CRYPT_PROTOCOL:
    case SV_HTTPS_KEYSIZE:
    case SV_HTTPS_SECRETKEYSIZE:
    case SV_HTTPS_SERVER_ISSUER:
    case SV_HTTPS_SERVER_SUBJECT:
    case SV_FORWARDED_URL:
        set_str(v, "");
        break;
    }
    return ERROR_SUCCESS;
}

static void emit(const reqinfo_t *ri, const value_t *v, sink_t *s)
{
    switch (v->kind) {
    case V_STR:
        sink_put(s, v->s, v->n);
        break;
    case V_ALL_HTTP:
        /* One line per received header, in order; duplicates are not merged. */
        for (size_t i = 0; i < ri->n_headers; i++) {
            const http_header_t *h = &ri->headers[i];
            char name[64];
            sink_put(s, "HTTP_", 5);
            for (size_t done = 0; done < h->name_len;) {
                size_t k = 0;
                for (; k < sizeof name && done < h->name_len; k++, done++) {
                    unsigned char c = ascii_upper((unsigned char)h->name[done]);
                    name[k] = (char)(c == '-' ? '_' : c);
                }
                sink_put(s, name, k);
            }
            sink_put(s, ":", 1);
            sink_put(s, h->value, h->value_len);
            sink_put(s, "\r\n", 2);
        }
        break;
    case V_ALL_RAW:
        for (size_t i = 0; i < ri->n_headers; i++) {
            const http_header_t *h = &ri->headers[i];
            sink_put(s, h->name, h->name_len);
            sink_put(s, ": ", 2);
            sink_put(s, h->value, h->value_len);
            sink_put(s, "\r\n", 2);
        }
        break;
    case V_HEADER: {
        bool first = true;
        for (size_t i = 0; i < ri->n_headers; i++) {
            const http_header_t *h = &ri->headers[i];
            if (!header_matches(v, h))
                continue;
            if (!first)
                sink_puts(s, v->cookie ? "; " : ", ");
            sink_put(s, h->value, h->value_len);
            first = false;
        }
        break;
    }
    }
}

uint32_t servervar_get(const reqinfo_t *ri, const char *name, char *buf, uint32_t *size)
{
    if (!ri || !name || !size || (!buf && *size > 0))
        return ERROR_INVALID_PARAMETER;

    bool wide = false;
    if (strncmp(name, "UNICODE_", 8) == 0) {
        name += 8;
        if (strncmp(name, "UNICODE_", 8) == 0)
            return ERROR_INVALID_INDEX;
        wide = true;
    }

    value_t v;
    uint32_t err = resolve(ri, name, &v);
    if (err != ERROR_SUCCESS)
        return err;

    sink_t s = { .p = NULL, .len = 0, .wide = wide };
    emit(ri, &v, &s);
    size_t need = s.len + (wide ? 2 : 1);
    if (need > UINT32_MAX) {
        /* Cannot happen with the request parser's header limits; never report a wrapped size. */
        *size = UINT32_MAX;
        return ERROR_INSUFFICIENT_BUFFER;
    }
    if (!buf || need > *size) {
        *size = (uint32_t)need;
        return ERROR_INSUFFICIENT_BUFFER;
    }

    s.p = (unsigned char *)buf;
    s.len = 0;
    emit(ri, &v, &s);
    s.p[s.len] = 0;
    if (wide)
        s.p[s.len + 1] = 0;
    *size = (uint32_t)need;
    return ERROR_SUCCESS;
}
