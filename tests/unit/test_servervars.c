/* servervar_get: every variable family, the Win32 error contract, UNICODE_ sizes. */
#include <stdint.h>
#include <string.h>

#include <windows.h>

#include "check.h"
#include "servervars.h"

enum {
    OK = ERROR_SUCCESS,
    E_PARAM = ERROR_INVALID_PARAMETER,
    E_BUFFER = ERROR_INSUFFICIENT_BUFFER,
    E_INDEX = ERROR_INVALID_INDEX,
};

static const http_header_t headers[] = {
#define H(n, v) {n, v, sizeof n - 1, sizeof v - 1}
    H("Host", "example.com:8080"),
    H("User-Agent", "curl/8.5"),
    H("My-Header", "mine"),
    H("Cookie", "a=1"),
    H("Accept", "text/html"),
    H("cookie", "b=2"),
    H("accept", "*/*"),
    H("Content-Type", "text/plain"),
    H("Content-Length", "5"),
    H("Empty", ""),
    H("Url", "shadowed"),
    H("X-Uni", "h\xc3\xa9llo \xf0\x9f\x98\x80"),
    H("X-Bad", "\xff|\xe0\x80\x80|\xed\xa0\x80|\xe2\x82"),
#undef H
};

static reqinfo_t make_request(void)
{
    return (reqinfo_t){
        .method = "POST",
        .raw_target = "/scripts/x.dll/a%20b?q=1&r=%41",
        .raw_path = "/scripts/x.dll/a%20b",
        .path = "/scripts/x.dll/a b",
        .query = "q=1&r=%41",
        .http_major = 1,
        .http_minor = 1,
        .headers = headers,
        .n_headers = sizeof headers / sizeof headers[0],
        .remote_addr = "192.0.2.7",
        .remote_port = 54321,
        .local_addr = "192.0.2.1",
        .local_port = 8080,
        .server_name = "example.com",
        .document_root = "/srv/www",
        .script_name = "/scripts/x.dll",
        .script_filename = "/srv/www/scripts/x.dll",
        .path_info = "/a b",
        .path_translated = "/srv/www/a b",
        .appl_physical_path = "/srv/www/scripts/",
        .has_content_length = true,
        .content_length = 5,
        .chunked = false,
        .content_type = "text/plain",
        .https = false,
        .server_software = "isapid/0.1.0",
        .instance_id = 1,
    };
}

static char got[8192];
static uint32_t got_err;

/* The value of a variable, or "<ERR n>" on failure (got_err holds the code). UNICODE_ values
 * come back as raw UTF-16 bytes. */
static const char *var(const reqinfo_t *ri, const char *name)
{
    uint32_t size = sizeof got;
    got_err = servervar_get(ri, name, got, &size);
    if (got_err != OK) {
        snprintf(got, sizeof got, "<ERR %u>", (unsigned)got_err);
        return got;
    }
    if (strncmp(name, "UNICODE_", 8) != 0)
        CHECK_INT(size, strlen(got) + 1);
    return got;
}

static const char *const iis_names[] = {
    "ALL_HTTP", "ALL_RAW", "APPL_MD_PATH", "APPL_PHYSICAL_PATH", "APP_POOL_CONFIG", "APP_POOL_ID",
    "AUTH_PASSWORD", "AUTH_TYPE", "AUTH_USER", "CACHE_URL", "CERT_COOKIE", "CERT_FLAGS",
    "CERT_ISSUER", "CERT_KEYSIZE", "CERT_SECRETKEYSIZE", "CERT_SERIALNUMBER",
    "CERT_SERVER_ISSUER", "CERT_SERVER_SUBJECT", "CERT_SUBJECT", "CONTENT_LENGTH",
    "CONTENT_TYPE", "CRYPT_CIPHER_ALG_ID", "CRYPT_HASH_ALG_ID", "CRYPT_KEYEXCHANGE_ALG_ID",
    "CRYPT_PROTOCOL", "DOCUMENT_ROOT", "FORWARDED_URL", "GATEWAY_INTERFACE", "HTTPS",
    "HTTPS_KEYSIZE", "HTTPS_SECRETKEYSIZE", "HTTPS_SERVER_ISSUER", "HTTPS_SERVER_SUBJECT",
    "HTTP_METHOD", "HTTP_URL", "HTTP_VERSION", "INSTANCE_ID", "INSTANCE_META_PATH",
    "INSTANCE_NAME", "LOCAL_ADDR", "LOGON_USER", "MANAGED_PIPELINE_MODE", "PATH_INFO",
    "PATH_TRANSLATED", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST", "REMOTE_PORT",
    "REMOTE_USER", "REQUEST_FILENAME", "REQUEST_FLAGS", "REQUEST_METHOD", "REQUEST_URI",
    "SCRIPT_FILENAME", "SCRIPT_NAME", "SCRIPT_TRANSLATED", "SERVER_ADDR", "SERVER_NAME",
    "SERVER_PORT", "SERVER_PORT_SECURE", "SERVER_PROTOCOL", "SERVER_SOFTWARE", "UNENCODED_URL",
    "UNMAPPED_REMOTE_USER", "URL",
};

static void test_every_name_known(void)
{
    reqinfo_t ri = make_request();
    size_t n = sizeof iis_names / sizeof iis_names[0];
    for (size_t i = 0; i < n; i++) {
        char name[64];
        var(&ri, iis_names[i]);
        if (got_err != OK)
            fprintf(stderr, "unknown: %s\n", iis_names[i]);
        CHECK_INT(got_err, OK);
        snprintf(name, sizeof name, "UNICODE_%s", iis_names[i]);
        var(&ri, name);
        CHECK_INT(got_err, OK);
    }
}

static void test_request_values(void)
{
    reqinfo_t ri = make_request();
    CHECK_STR(var(&ri, "REQUEST_METHOD"), "POST");
    CHECK_STR(var(&ri, "HTTP_METHOD"), "POST");
    /* IIS: URL is the extension's URL without path info, as SCRIPT_NAME (ISAPI-FILTERS.md §5.2). */
    CHECK_STR(var(&ri, "URL"), "/scripts/x.dll");
    CHECK_STR(var(&ri, "PATH_INFO"), ri.path_info);
    reqinfo_t unmapped = ri;
    unmapped.script_name = "";
    CHECK_STR(var(&unmapped, "URL"), "/scripts/x.dll/a b");
    CHECK_STR(var(&ri, "HTTP_URL"), "/scripts/x.dll/a%20b?q=1&r=%41");
    CHECK_STR(var(&ri, "UNENCODED_URL"), "/scripts/x.dll/a%20b?q=1&r=%41");
    CHECK_STR(var(&ri, "REQUEST_URI"), "/scripts/x.dll/a%20b?q=1&r=%41");
    CHECK_STR(var(&ri, "CACHE_URL"), "/scripts/x.dll/a%20b?q=1&r=%41");
    CHECK_STR(var(&ri, "QUERY_STRING"), "q=1&r=%41");
    CHECK_STR(var(&ri, "SERVER_PROTOCOL"), "HTTP/1.1");
    CHECK_STR(var(&ri, "HTTP_VERSION"), "HTTP/1.1");
    CHECK_STR(var(&ri, "CONTENT_LENGTH"), "5");
    CHECK_STR(var(&ri, "CONTENT_TYPE"), "text/plain");
    CHECK_STR(var(&ri, "GATEWAY_INTERFACE"), "CGI/1.1");
    CHECK_STR(var(&ri, "SERVER_SOFTWARE"), "isapid/0.1.0");

    ri.http_minor = 0;
    ri.has_content_length = false;
    ri.content_type = "";
    ri.query = "";
    CHECK_STR(var(&ri, "SERVER_PROTOCOL"), "HTTP/1.0");
    CHECK_STR(var(&ri, "CONTENT_LENGTH"), "");
    CHECK_STR(var(&ri, "CONTENT_TYPE"), "");
    CHECK_STR(var(&ri, "QUERY_STRING"), "");

    ri.chunked = true;
    CHECK_STR(var(&ri, "CONTENT_LENGTH"), "");
    ri.has_content_length = true;
    ri.chunked = false;
    ri.content_length = UINT64_MAX;
    CHECK_STR(var(&ri, "CONTENT_LENGTH"), "18446744073709551615");
    ri.content_length = 0;
    CHECK_STR(var(&ri, "CONTENT_LENGTH"), "0");
}

static void test_paths_and_addresses(void)
{
    reqinfo_t ri = make_request();
    CHECK_STR(var(&ri, "SCRIPT_NAME"), "/scripts/x.dll");
    CHECK_STR(var(&ri, "SCRIPT_FILENAME"), "/srv/www/scripts/x.dll");
    CHECK_STR(var(&ri, "SCRIPT_TRANSLATED"), "/srv/www/scripts/x.dll");
    CHECK_STR(var(&ri, "REQUEST_FILENAME"), "/srv/www/scripts/x.dll");
    CHECK_STR(var(&ri, "PATH_INFO"), "/a b");
    CHECK_STR(var(&ri, "PATH_TRANSLATED"), "/srv/www/a b");
    CHECK_STR(var(&ri, "DOCUMENT_ROOT"), "/srv/www");
    CHECK_STR(var(&ri, "APPL_PHYSICAL_PATH"), "/srv/www/scripts/");

    CHECK_STR(var(&ri, "REMOTE_ADDR"), "192.0.2.7");
    CHECK_STR(var(&ri, "REMOTE_HOST"), "192.0.2.7");
    CHECK_STR(var(&ri, "REMOTE_PORT"), "54321");
    CHECK_STR(var(&ri, "LOCAL_ADDR"), "192.0.2.1");
    CHECK_STR(var(&ri, "SERVER_ADDR"), "192.0.2.1");
    CHECK_STR(var(&ri, "SERVER_NAME"), "example.com");
    CHECK_STR(var(&ri, "SERVER_PORT"), "8080");
    CHECK_STR(var(&ri, "SERVER_PORT_SECURE"), "0");
    CHECK_STR(var(&ri, "HTTPS"), "off");
    ri.https = true;
    CHECK_STR(var(&ri, "SERVER_PORT_SECURE"), "1");
    CHECK_STR(var(&ri, "HTTPS"), "on");

    ri.remote_addr = "::1";
    ri.remote_port = 0;
    CHECK_STR(var(&ri, "REMOTE_ADDR"), "::1");
    CHECK_STR(var(&ri, "REMOTE_PORT"), "0");
}

static void test_iis_values(void)
{
    reqinfo_t ri = make_request();
    CHECK_STR(var(&ri, "APPL_MD_PATH"), "/LM/W3SVC/1/ROOT");
    CHECK_STR(var(&ri, "INSTANCE_ID"), "1");
    CHECK_STR(var(&ri, "INSTANCE_META_PATH"), "/LM/W3SVC/1");
    CHECK_STR(var(&ri, "INSTANCE_NAME"), "Default Web Site");
    CHECK_STR(var(&ri, "APP_POOL_ID"), "DefaultAppPool");
    CHECK_STR(var(&ri, "APP_POOL_CONFIG"), "");
    CHECK_STR(var(&ri, "MANAGED_PIPELINE_MODE"), "Integrated");
    CHECK_STR(var(&ri, "REQUEST_FLAGS"), "0");
    CHECK_STR(var(&ri, "CERT_FLAGS"), "0");
    ri.instance_id = 42;
    CHECK_STR(var(&ri, "APPL_MD_PATH"), "/LM/W3SVC/42/ROOT");
    CHECK_STR(var(&ri, "INSTANCE_META_PATH"), "/LM/W3SVC/42");
    CHECK_STR(var(&ri, "INSTANCE_ID"), "42");

    static const char *const empty[] = {
        "AUTH_TYPE", "AUTH_USER", "AUTH_PASSWORD", "LOGON_USER", "REMOTE_USER",
        "UNMAPPED_REMOTE_USER", "CERT_COOKIE", "CERT_ISSUER", "CERT_KEYSIZE",
        "CERT_SECRETKEYSIZE", "CERT_SERIALNUMBER", "CERT_SERVER_ISSUER", "CERT_SERVER_SUBJECT",
        "CERT_SUBJECT", "CRYPT_CIPHER_ALG_ID", "CRYPT_HASH_ALG_ID", "CRYPT_KEYEXCHANGE_ALG_ID",
        "CRYPT_PROTOCOL", "HTTPS_KEYSIZE", "HTTPS_SECRETKEYSIZE", "HTTPS_SERVER_ISSUER",
        "HTTPS_SERVER_SUBJECT", "FORWARDED_URL",
    };
    for (size_t i = 0; i < sizeof empty / sizeof empty[0]; i++)
        CHECK_STR(var(&ri, empty[i]), "");
}

static void test_headers(void)
{
    reqinfo_t ri = make_request();
    CHECK_STR(var(&ri, "HTTP_USER_AGENT"), "curl/8.5");
    CHECK_STR(var(&ri, "HTTP_HOST"), "example.com:8080");
    CHECK_STR(var(&ri, "HTTP_MY_HEADER"), "mine");
    CHECK_STR(var(&ri, "HTTP_ACCEPT"), "text/html, */*");
    CHECK_STR(var(&ri, "HTTP_COOKIE"), "a=1; b=2");
    CHECK_STR(var(&ri, "HTTP_CONTENT_LENGTH"), "5");
    CHECK_STR(var(&ri, "HTTP_EMPTY"), "");
    CHECK_INT(got_err, OK);
    /* Fixed variables shadow headers of the same HTTP_ name. */
    CHECK_STR(var(&ri, "HTTP_URL"), "/scripts/x.dll/a%20b?q=1&r=%41");

    CHECK_STR(var(&ri, "HEADER_User-Agent"), "curl/8.5");
    CHECK_STR(var(&ri, "HEADER_user-agent"), "curl/8.5");
    CHECK_STR(var(&ri, "HEADER_MY-HEADER"), "mine");
    CHECK_STR(var(&ri, "HEADER_Accept"), "text/html, */*");
    CHECK_STR(var(&ri, "HEADER_COOKIE"), "a=1; b=2");
    CHECK_STR(var(&ri, "HEADER_Url"), "shadowed");

    /* Absent headers: ERROR_INVALID_INDEX, as IIS answers (real extensions read only that code
     * as "absent"); never ERROR_NO_DATA. */
    var(&ri, "HTTP_X_MISSING");
    CHECK_INT(got_err, E_INDEX);
    var(&ri, "HEADER_X-Missing");
    CHECK_INT(got_err, E_INDEX);
    var(&ri, "HEADER_My_Header"); /* no '_' → '-' for HEADER_ */
    CHECK_INT(got_err, E_INDEX);
    var(&ri, "HTTP_MY-HEADER"); /* NAME is matched in its '_' form only */
    CHECK_INT(got_err, E_INDEX);
    var(&ri, "HTTP_user_agent"); /* names are case-sensitive */
    CHECK_INT(got_err, E_INDEX);
    var(&ri, "UNICODE_HTTP_X_MISSING");
    CHECK_INT(got_err, E_INDEX);

    /* A header literally named with '_' also answers HTTP_. */
    static const http_header_t under[] = {{"My_Header", "u", 9, 1}, {"My-Header", "d", 9, 1}};
    ri.headers = under;
    ri.n_headers = 2;
    CHECK_STR(var(&ri, "HTTP_MY_HEADER"), "u, d");
    CHECK_STR(var(&ri, "HEADER_My_Header"), "u");
}

static void test_all_http_raw(void)
{
    reqinfo_t ri = make_request();
    static const http_header_t few[] = {
        {"Host", "h", 4, 1}, {"X-Forwarded-For", "1.2.3.4", 15, 7}, {"accept", "*/*", 6, 3},
        {"Accept", "a", 6, 1}, {"E", "", 1, 0},
    };
    ri.headers = few;
    ri.n_headers = 5;
    CHECK_STR(var(&ri, "ALL_HTTP"),
              "HTTP_HOST:h\r\nHTTP_X_FORWARDED_FOR:1.2.3.4\r\nHTTP_ACCEPT:*/*\r\n"
              "HTTP_ACCEPT:a\r\nHTTP_E:\r\n");
    CHECK_STR(var(&ri, "ALL_RAW"),
              "Host: h\r\nX-Forwarded-For: 1.2.3.4\r\naccept: */*\r\nAccept: a\r\nE: \r\n");

    /* A header name longer than the internal chunk of ALL_HTTP's name mapping. */
    char longname[200], want[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    longname[100] = '-';
    http_header_t lh = {longname, "v", sizeof longname - 1, 1};
    ri.headers = &lh;
    ri.n_headers = 1;
    strcpy(want, "HTTP_");
    for (size_t i = 0; i < sizeof longname - 1; i++)
        want[5 + i] = i == 100 ? '_' : 'A';
    strcpy(want + 5 + sizeof longname - 1, ":v\r\n");
    CHECK_STR(var(&ri, "ALL_HTTP"), want);

    ri.n_headers = 0;
    CHECK_STR(var(&ri, "ALL_HTTP"), "");
    CHECK_INT(got_err, OK);
    CHECK_STR(var(&ri, "ALL_RAW"), "");
    CHECK_INT(got_err, OK);
}

static void test_errors(void)
{
    reqinfo_t ri = make_request();
    char buf[64];
    uint32_t size;

    static const char *const unknown[] = {
        "NOPE", "", "url", "Url", "HTTP_", "HEADER_", "UNICODE_", "UNICODE_UNICODE_URL",
        "UNICODE_NOPE", "HTTP", "HEADER", "ALL_HTTPX", "URL ", "AAA", "ZZZ",
    };
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        size = sizeof buf;
        CHECK_INT(servervar_get(&ri, unknown[i], buf, &size), E_INDEX);
    }

    size = sizeof buf;
    CHECK_INT(servervar_get(&ri, NULL, buf, &size), E_PARAM);
    CHECK_INT(servervar_get(&ri, "URL", buf, NULL), E_PARAM);
    size = 5;
    CHECK_INT(servervar_get(&ri, "URL", NULL, &size), E_PARAM);
    size = sizeof buf;
    CHECK_INT(servervar_get(NULL, "URL", buf, &size), E_PARAM);

    /* Size query: NULL buffer, size 0. */
    size = 0;
    CHECK_INT(servervar_get(&ri, "URL", NULL, &size), E_BUFFER);
    CHECK_INT(size, strlen("/scripts/x.dll") + 1);

    /* Too small by one: the size is returned and the buffer is left alone. */
    memset(buf, '#', sizeof buf);
    size = (uint32_t)strlen("/scripts/x.dll");
    CHECK_INT(servervar_get(&ri, "URL", buf, &size), E_BUFFER);
    CHECK_INT(size, strlen("/scripts/x.dll") + 1);
    CHECK(buf[0] == '#' && buf[size] == '#');

    /* Exactly enough. */
    CHECK_INT(servervar_get(&ri, "URL", buf, &size), OK);
    CHECK_INT(size, strlen("/scripts/x.dll") + 1);
    CHECK_STR(buf, "/scripts/x.dll");

    /* An empty value needs one byte. */
    size = 0;
    CHECK_INT(servervar_get(&ri, "AUTH_TYPE", NULL, &size), E_BUFFER);
    CHECK_INT(size, 1);
    buf[0] = 'x';
    CHECK_INT(servervar_get(&ri, "AUTH_TYPE", buf, &size), OK);
    CHECK_INT(size, 1);
    CHECK_INT(buf[0], 0);

    /* Composite values report their full size as well. */
    size = 4;
    CHECK_INT(servervar_get(&ri, "HTTP_COOKIE", buf, &size), E_BUFFER);
    CHECK_INT(size, sizeof "a=1; b=2");
    size = 0;
    CHECK_INT(servervar_get(&ri, "ALL_RAW", NULL, &size), E_BUFFER);
    var(&ri, "ALL_RAW");
    CHECK_INT(size, strlen(got) + 1);
}

static void test_unicode(void)
{
    reqinfo_t ri = make_request();
    unsigned char buf[128];
    uint32_t size = 0;

    CHECK_INT(servervar_get(&ri, "UNICODE_REQUEST_METHOD", NULL, &size), E_BUFFER);
    CHECK_INT(size, 10); /* "POST" + NUL, two bytes each */
    size = 9;
    memset(buf, 0xAA, sizeof buf);
    CHECK_INT(servervar_get(&ri, "UNICODE_REQUEST_METHOD", (char *)buf, &size), E_BUFFER);
    CHECK_INT(size, 10);
    CHECK_INT(buf[0], 0xAA);
    CHECK_INT(servervar_get(&ri, "UNICODE_REQUEST_METHOD", (char *)buf, &size), OK);
    CHECK_INT(size, 10);
    CHECK(memcmp(buf, "P\0O\0S\0T\0\0\0", 10) == 0);

    /* é is one unit, U+1F600 a surrogate pair. */
    size = sizeof buf;
    CHECK_INT(servervar_get(&ri, "UNICODE_HTTP_X_UNI", (char *)buf, &size), OK);
    static const unsigned char uni[] = {'h', 0, 0xE9, 0, 'l', 0, 'l', 0, 'o', 0, ' ', 0,
                                        0x3D, 0xD8, 0x00, 0xDE, 0, 0};
    CHECK_INT(size, sizeof uni);
    CHECK(memcmp(buf, uni, sizeof uni) == 0);

    /* Invalid UTF-8: one U+FFFD per maximal ill-formed subpart. */
    size = sizeof buf;
    CHECK_INT(servervar_get(&ri, "UNICODE_HEADER_x-bad", (char *)buf, &size), OK);
    static const unsigned char bad[] = {
        0xFD, 0xFF, '|', 0,                                         /* FF */
        0xFD, 0xFF, 0xFD, 0xFF, 0xFD, 0xFF, '|', 0,                 /* E0 80 80 overlong */
        0xFD, 0xFF, 0xFD, 0xFF, 0xFD, 0xFF, '|', 0,                 /* ED A0 80 surrogate */
        0xFD, 0xFF,                                                 /* E2 82 truncated */
        0, 0,
    };
    CHECK_INT(size, sizeof bad);
    CHECK(memcmp(buf, bad, sizeof bad) == 0);

    /* Empty value: just the two-byte NUL. */
    size = 0;
    CHECK_INT(servervar_get(&ri, "UNICODE_AUTH_USER", NULL, &size), E_BUFFER);
    CHECK_INT(size, 2);
    size = 1;
    CHECK_INT(servervar_get(&ri, "UNICODE_AUTH_USER", (char *)buf, &size), E_BUFFER);
    CHECK_INT(size, 2);

    /* Composite values in UTF-16 too. */
    static const http_header_t one[] = {{"A", "\xc3\xa9", 1, 2}};
    ri.headers = one;
    ri.n_headers = 1;
    size = sizeof buf;
    CHECK_INT(servervar_get(&ri, "UNICODE_ALL_RAW", (char *)buf, &size), OK);
    CHECK_INT(size, 14);
    CHECK(memcmp(buf, "A\0:\0 \0\xe9\0\r\0\n\0\0\0", 14) == 0);
}

static void test_reqinfo_header(void)
{
    reqinfo_t ri = make_request();
    const http_header_t *h = reqinfo_header(&ri, "user-AGENT");
    CHECK(h != NULL && strcmp(h->value, "curl/8.5") == 0);
    h = reqinfo_header(&ri, "cookie");
    CHECK(h != NULL && strcmp(h->value, "a=1") == 0); /* the first of several */
    CHECK(reqinfo_header(&ri, "User_Agent") == NULL);
    CHECK(reqinfo_header(&ri, "User-Agen") == NULL);
    CHECK(reqinfo_header(&ri, "") == NULL);
    ri.n_headers = 0;
    CHECK(reqinfo_header(&ri, "Host") == NULL);
}

int main(void)
{
    test_reqinfo_header();
    test_every_name_known();
    test_request_values();
    test_paths_and_addresses();
    test_iis_values();
    test_headers();
    test_all_http_raw();
    test_errors();
    test_unicode();
    return check_report("test_servervars");
}
