/* Runs the example extensions against a scripted host, without the server: each request is
 * an ECB whose callbacks serve a fixed set of server variables and a request body (in
 * pieces, to exercise the read loops) and record the response. GetLastError/SetLastError
 * come from runtime/lasterror.c linked into this program, exported to the extensions as the server
 * exports them.
 *
 *   example_host HELLO.so FORM.so SERVERVARS.so */
#include <windows.h>
#include <httpext.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* A server variable; value NULL means "known, but no value" (ERROR_NO_DATA). */
typedef struct {
    const char *name;
    const char *value;
} var_t;

typedef struct {
    char *data;
    size_t len;
} bytes_t;

/* The ECB comes first so that ConnID (= &ecb, as isapid sets it) is also the request. */
typedef struct {
    EXTENSION_CONTROL_BLOCK ecb;
    const var_t *vars;
    const char *body; /* the part of the body past lpbData */
    size_t body_len, body_pos;
    DWORD read_max;   /* most bytes one ReadClient returns */
    int header_calls;
    char status[64];
    bytes_t headers, out;
    int bad_flags;
} request_t;

typedef struct {
    void *dl;
    PFN_GETEXTENSIONVERSION get_version;
    PFN_HTTPEXTENSIONPROC proc;
    PFN_TERMINATEEXTENSION terminate;
} extension_t;

static void bytes_add(bytes_t *b, const void *p, size_t n)
{
    b->data = realloc(b->data, b->len + n + 1);
    if (b->data == NULL)
        abort();
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static request_t *request_of(HCONN conn)
{
    return (request_t *)conn;
}

static BOOL WINAPI get_server_variable(HCONN conn, LPSTR name, LPVOID buf, LPDWORD size)
{
    request_t *r = request_of(conn);
    if (name == NULL || size == NULL) {
        SetLastError(ERROR_INVALID_PARAMETER);
        return FALSE;
    }
    int unicode = strncmp(name, "UNICODE_", 8) == 0;
    const char *key = unicode ? name + 8 : name;
    for (const var_t *v = r->vars; v->name != NULL; v++) {
        if (strcmp(v->name, key) != 0)
            continue;
        if (v->value == NULL) {
            SetLastError(ERROR_NO_DATA);
            return FALSE;
        }
        size_t len = strlen(v->value);
        DWORD need = (DWORD)((len + 1) * (unicode ? 2 : 1));
        if (buf == NULL || *size < need) {
            *size = need;
            SetLastError(ERROR_INSUFFICIENT_BUFFER);
            return FALSE;
        }
        if (unicode) {
            BYTE *p = buf; /* ASCII values only: one UTF-16LE unit per byte */
            for (size_t i = 0; i <= len; i++) {
                p[2 * i] = (BYTE)v->value[i];
                p[2 * i + 1] = 0;
            }
        } else {
            memcpy(buf, v->value, len + 1);
        }
        *size = need;
        return TRUE;
    }
    SetLastError(ERROR_INVALID_INDEX);
    return FALSE;
}

static BOOL WINAPI write_client(HCONN conn, LPVOID buf, LPDWORD bytes, DWORD flags)
{
    request_t *r = request_of(conn);
    if (flags != HSE_IO_SYNC && flags != 0)
        r->bad_flags = 1;
    bytes_add(&r->out, buf, *bytes);
    return TRUE;
}

static BOOL WINAPI read_client(HCONN conn, LPVOID buf, LPDWORD size)
{
    request_t *r = request_of(conn);
    size_t n = r->body_len - r->body_pos;
    if (n > *size)
        n = *size;
    if (n > r->read_max)
        n = r->read_max;
    memcpy(buf, r->body + r->body_pos, n);
    r->body_pos += n;
    *size = (DWORD)n;
    return TRUE;
}

static BOOL WINAPI server_support_function(HCONN conn, DWORD req, LPVOID buf, LPDWORD size,
                                           LPDWORD type)
{
    request_t *r = request_of(conn);
    (void)size;
    (void)type;
    if (req == HSE_REQ_SEND_RESPONSE_HEADER_EX && buf != NULL) {
        const HSE_SEND_HEADER_EX_INFO *h = buf;
        r->header_calls++;
        snprintf(r->status, sizeof r->status, "%.*s", (int)h->cchStatus, h->pszStatus);
        bytes_add(&r->headers, h->pszHeader, h->cchHeader);
        return TRUE;
    }
    SetLastError(ERROR_INVALID_PARAMETER);
    return FALSE;
}

/* Fills r for a request; body[0..available) is preloaded, the rest is left for ReadClient.
 * total is cbTotalBytes (0xFFFFFFFF for a chunked body). */
static void request_init(request_t *r, const char *method, const char *query, const var_t *vars,
                         const char *body, size_t body_len, size_t available, DWORD total)
{
    static char content_type[] = "application/x-www-form-urlencoded";
    static char empty[] = "";
    memset(r, 0, sizeof *r);
    r->ecb.cbSize = sizeof r->ecb;
    r->ecb.dwVersion = HSE_VERSION;
    r->ecb.ConnID = &r->ecb;
    r->ecb.lpszMethod = (LPSTR)method;
    r->ecb.lpszQueryString = (LPSTR)query;
    r->ecb.lpszPathInfo = empty;
    r->ecb.lpszPathTranslated = empty;
    r->ecb.lpszContentType = body ? content_type : empty;
    r->ecb.cbTotalBytes = total;
    r->ecb.cbAvailable = (DWORD)available;
    r->ecb.lpbData = (LPBYTE)(body ? body : empty);
    r->ecb.GetServerVariable = get_server_variable;
    r->ecb.WriteClient = write_client;
    r->ecb.ReadClient = read_client;
    r->ecb.ServerSupportFunction = server_support_function;
    r->vars = vars;
    r->body = body ? body + available : NULL;
    r->body_len = body ? body_len - available : 0;
    r->read_max = 7;
}

static void request_free(request_t *r)
{
    free(r->headers.data);
    free(r->out.data);
}

static int load(extension_t *x, const char *path, const char *desc)
{
    x->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (x->dl == NULL) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        check_failures++;
        return -1;
    }
    x->get_version = (PFN_GETEXTENSIONVERSION)dlsym(x->dl, "GetExtensionVersion");
    x->proc = (PFN_HTTPEXTENSIONPROC)dlsym(x->dl, "HttpExtensionProc");
    x->terminate = (PFN_TERMINATEEXTENSION)dlsym(x->dl, "TerminateExtension");
    CHECK(x->get_version != NULL);
    CHECK(x->proc != NULL);
    CHECK(x->terminate != NULL);
    if (x->get_version == NULL || x->proc == NULL)
        return -1;

    HSE_VERSION_INFO info;
    memset(&info, 0x55, sizeof info);
    CHECK(x->get_version(&info));
    CHECK_INT(info.dwExtensionVersion, HSE_VERSION);
    CHECK(memchr(info.lpszExtensionDesc, '\0', sizeof info.lpszExtensionDesc) != NULL);
    CHECK_STR(info.lpszExtensionDesc, desc);
    return 0;
}

static void unload(extension_t *x)
{
    if (x->terminate != NULL)
        CHECK(x->terminate(HSE_TERM_MUST_UNLOAD));
    dlclose(x->dl);
}

#define CHECK_CONTAINS(haystack, needle)                                                   \
    do {                                                                                   \
        const char *check_h_ = (haystack);                                                 \
        check_count++;                                                                     \
        if (check_h_ == NULL || strstr(check_h_, (needle)) == NULL) {                      \
            check_failures++;                                                              \
            fprintf(stderr, "%s:%d: output lacks \"%s\":\n%s\n", __FILE__, __LINE__,       \
                    (needle), check_h_ ? check_h_ : "(null)");                             \
        }                                                                                  \
    } while (0)

static const var_t no_vars[] = {{NULL, NULL}};

static void test_hello(const char *path)
{
    extension_t x;
    if (load(&x, path, "isapid hello example") != 0)
        return;
    request_t r;
    request_init(&r, "GET", "", no_vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_INT(r.header_calls, 1);
    CHECK_STR(r.status, "200 OK");
    CHECK_STR(r.headers.data, "Content-Type: text/plain\r\nContent-Length: 14\r\n\r\n");
    CHECK_STR(r.out.data, "Hello, world!\n");
    CHECK_INT(r.bad_flags, 0);
    CHECK_INT(r.ecb.dwHttpStatusCode, 200);
    request_free(&r);
    unload(&x);
}

static const var_t form_vars[] = {{"SCRIPT_NAME", "/ext/form.dll"}, {NULL, NULL}};

/* POSTs body to the form with `available` bytes preloaded; returns the page. */
static char *form_post(extension_t *x, const char *body, size_t len, size_t available, DWORD total,
                       DWORD read_max)
{
    request_t r;
    request_init(&r, "POST", "", form_vars, body, len, available, total);
    r.read_max = read_max;
    CHECK_INT(x->proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_STR(r.status, "200 OK");
    CHECK(strstr(r.headers.data, "Content-Length") == NULL);
    CHECK_INT(r.body_pos, r.body_len); /* the whole body was read */
    free(r.headers.data);
    return r.out.data;
}

static void test_form(const char *path)
{
    extension_t x;
    if (load(&x, path, "isapid form example") != 0)
        return;

    request_t r;
    request_init(&r, "GET", "", form_vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_STR(r.status, "200 OK");
    CHECK_CONTAINS(r.headers.data, "Content-Type: text/html");
    CHECK_CONTAINS(r.out.data, "<form method=\"post\" action=\"/ext/form.dll\">");
    CHECK_CONTAINS(r.out.data, "name=\"name\"");
    CHECK_CONTAINS(r.out.data, "name=\"message\"");
    CHECK_CONTAINS(r.out.data, "<textarea");
    request_free(&r);

    static const char body[] = "name=J%3Crg+%26+co&message=caf%C3%A9%21&comments=a%0D%0Ab";
    size_t len = sizeof body - 1;
    char *page = form_post(&x, body, len, 5, (DWORD)len, 7);
    CHECK_CONTAINS(page, "<dt>name</dt><dd>J&lt;rg &amp; co</dd>");
    CHECK_CONTAINS(page, "<dt>message</dt><dd>caf\xC3\xA9!</dd>");
    CHECK_CONTAINS(page, "<dt>comments</dt><dd>a\r\nb</dd>");
    char line[64];
    snprintf(line, sizeof line, "\nReceived %zu bytes\n", len);
    CHECK_CONTAINS(page, line);
    free(page);

    /* Chunked: nothing preloaded, length unknown. */
    page = form_post(&x, body, len, 0, 0xFFFFFFFFu, 1000);
    CHECK_CONTAINS(page, "<dt>name</dt><dd>J&lt;rg &amp; co</dd>");
    CHECK_CONTAINS(page, line);
    free(page);

    /* Bigger than what the example keeps: all counted, 1 MiB decoded. */
    size_t big = 3u << 20;
    char *large = malloc(big);
    if (large == NULL)
        abort();
    memcpy(large, "x=", 2);
    memset(large + 2, 'y', big - 2);
    page = form_post(&x, large, big, 49152, (DWORD)big, 65536);
    snprintf(line, sizeof line, "\nReceived %zu bytes\n", big);
    CHECK_CONTAINS(page, line);
    CHECK_CONTAINS(page, "Only the first 1048576 bytes were decoded.");
    free(page);
    page = form_post(&x, large, big, 0, 0xFFFFFFFFu, 65536);
    CHECK_CONTAINS(page, line);
    free(page);
    free(large);

    request_init(&r, "DELETE", "", form_vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_STR(r.status, "405 Method Not Allowed");
    CHECK_CONTAINS(r.headers.data, "Allow: GET, HEAD, POST\r\n");
    request_free(&r);

    /* A failing callback's error reaches the server through the shared last-error slot. */
    SetLastError(0);
    request_init(&r, "GET", "", no_vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_ERROR);
    CHECK_INT(GetLastError(), ERROR_INVALID_INDEX);
    CHECK_INT(r.header_calls, 0);
    request_free(&r);

    unload(&x);
}

static void test_servervars(const char *path)
{
    extension_t x;
    if (load(&x, path, "isapid server variables example") != 0)
        return;

    static char long_value[301];
    memset(long_value, 'v', sizeof long_value - 1);
    const var_t vars[] = {
        {"URL", "/ext/servervars.dll"},
        {"HTTP_HOST", "example.test"},
        {"ALL_HTTP", "HTTP_HOST:example.test\r\nHTTP_X_TEST:hello\r\n"},
        {"HTTP_USER_AGENT", long_value},
        {"HTTP_ACCEPT", NULL},
        {"HTTP_X_TEST", "hello"},
        {NULL, NULL},
    };

    request_t r;
    request_init(&r, "GET", "", vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_STR(r.status, "200 OK");
    char want[128];
    snprintf(want, sizeof want, "Content-Length: %zu\r\n", r.out.len);
    CHECK_CONTAINS(r.headers.data, want);
    const char *out = r.out.data;
    CHECK(out != NULL && strncmp(out, "ECB.lpszMethod=GET\n", 19) == 0);
    CHECK_CONTAINS(out, "\nECB.lpszQueryString=\n");
    CHECK_CONTAINS(out, "\nECB.cbTotalBytes=0\n");
    CHECK_CONTAINS(out, "\nECB.cbSize=192\n");
    CHECK_CONTAINS(out, "\nECB.dwVersion=0x00080000\n");
    CHECK_CONTAINS(out, "\nURL=/ext/servervars.dll\n");
    CHECK_CONTAINS(out, "\nHTTP_HOST=example.test\n");
    CHECK_CONTAINS(out, "\nALL_HTTP:\nHTTP_HOST:example.test\r\nHTTP_X_TEST:hello\r\n");
    CHECK_CONTAINS(out, "\nHTTP_ACCEPT!error=232\n");
    CHECK_CONTAINS(out, "\nCERT_COOKIE!error=1413\n");
    CHECK_CONTAINS(out, "\nALL_RAW!error=1413\n");
    char ua[400];
    snprintf(ua, sizeof ua, "\nHTTP_USER_AGENT=%s\n", long_value);
    CHECK_CONTAINS(out, ua);
    request_free(&r);

    request_init(&r, "GET", "a=1&var=HTTP_X_TEST&b=2", vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_STR(r.out.data, "HTTP_X_TEST=hello\n");
    request_free(&r);

    request_init(&r, "GET", "var=UNICODE_URL", vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_STR(r.out.data, "UNICODE_URL=/ext/servervars.dll\n");
    request_free(&r);

    request_init(&r, "GET", "var=NOPE", vars, NULL, 0, 0, 0);
    CHECK_INT(x.proc(&r.ecb), HSE_STATUS_SUCCESS);
    CHECK_STR(r.out.data, "NOPE!error=1413\n");
    request_free(&r);

    unload(&x);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s hello.so form.so servervars.so\n", argv[0]);
        return 2;
    }
    test_hello(argv[1]);
    test_form(argv[2]);
    test_servervars(argv[3]);
    return check_report("sdk.examples");
}
