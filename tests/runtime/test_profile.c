/* libisapi: GetPrivateProfileString/Int/Section with Windows' rules (case, defaults, lists,
 * truncation counts, comments, quotes, `\` separators, relative names) and WritePrivateProfileString. */
#define _GNU_SOURCE
#include <windows.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

static char dir[64];
static char path[128];

static const char ini_text[] =
    "; a comment\n"
    "[Settings]\n"
    "  Name = Hello World  \r\n"
    "Quoted=\"  spaced  \"\n"
    "Single='x'\n"
    "Half=\"open\n"
    "Semi=a;b\n"
    "Port=8080\n"
    "Hex=0x1F\n"
    "Neg=-5\n"
    "Junk=abc\n"
    "NoValue\n"
    "name=duplicate key, ignored\n"
    "\n"
    "[Empty]\n"
    "[settings]\n"
    "Port=1\n"
    "[Other]\n"
    "k=v\n";

static void write_file(const char *name, const char *text)
{
    FILE *f = fopen(name, "w");
    CHECK(f != NULL);
    if (f != NULL) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_values(void)
{
    char buf[64];
    CHECK_INT(GetPrivateProfileString("settings", "NAME", "d", buf, sizeof buf, path), 11);
    CHECK_STR(buf, "Hello World");
    CHECK_INT(GetLastError(), ERROR_SUCCESS);
    GetPrivateProfileString("Settings", "Quoted", "", buf, sizeof buf, path);
    CHECK_STR(buf, "  spaced  ");
    GetPrivateProfileString("Settings", "Single", "", buf, sizeof buf, path);
    CHECK_STR(buf, "x");
    GetPrivateProfileString("Settings", "Half", "", buf, sizeof buf, path);
    CHECK_STR(buf, "\"open");
    GetPrivateProfileString("Settings", "Semi", "", buf, sizeof buf, path);
    CHECK_STR(buf, "a;b");
    CHECK_INT(GetPrivateProfileString("Settings", "NoValue", "d", buf, sizeof buf, path), 0);
    CHECK_STR(buf, "");
    /* The first [Settings] is read; the later [settings] is a duplicate. */
    CHECK_INT(GetPrivateProfileInt("SETTINGS", "port", 7, path), 8080);
    CHECK_INT(GetPrivateProfileInt("Settings", "Hex", 7, path), 31);
    CHECK_INT((INT)GetPrivateProfileInt("Settings", "Neg", 7, path), -5);
    CHECK_INT(GetPrivateProfileInt("Settings", "Junk", 7, path), 0);
    CHECK_INT(GetPrivateProfileInt("Settings", "Missing", 7, path), 7);
    CHECK_INT(GetPrivateProfileInt("Nope", "Port", 9, path), 9);
}

static void test_defaults_and_truncation(void)
{
    char buf[64];
    SetLastError(0);
    CHECK_INT(GetPrivateProfileString("Settings", "Missing", "def  ", buf, sizeof buf, path), 3);
    CHECK_STR(buf, "def");
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
    CHECK_INT(GetPrivateProfileString("Settings", "Missing", NULL, buf, sizeof buf, path), 0);
    CHECK_STR(buf, "");
    CHECK_INT(GetPrivateProfileString("Settings", "Name", "", buf, 6, path), 5);
    CHECK_STR(buf, "Hello");
    CHECK_INT(GetPrivateProfileString("Settings", "Name", "", buf, 0, path), 0);
    CHECK_INT(GetPrivateProfileString("Settings", "Name", "x", NULL, 10, path), 0);
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    SetLastError(0);
    CHECK_INT(GetPrivateProfileString("S", "K", "dflt", buf, sizeof buf, "/nonexistent/dir/x.ini"), 4);
    CHECK_STR(buf, "dflt");
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
    CHECK_INT(GetPrivateProfileInt("S", "K", 3, NULL), 3);
}

static void test_lists(void)
{
    char buf[128];
    DWORD n = GetPrivateProfileString(NULL, NULL, "", buf, sizeof buf, path);
    CHECK_INT(n, 30);
    CHECK(memcmp(buf, "Settings\0Empty\0settings\0Other\0\0", 31) == 0);
    n = GetPrivateProfileString("Other", NULL, "", buf, sizeof buf, path);
    CHECK_INT(n, 2);
    CHECK(memcmp(buf, "k\0\0", 3) == 0);
    n = GetPrivateProfileString("Empty", NULL, "", buf, sizeof buf, path);
    CHECK_INT(n, 0);
    CHECK(buf[0] == '\0' && buf[1] == '\0');
    /* Truncated lists return nSize-2 and end with two NULs. */
    n = GetPrivateProfileString(NULL, NULL, "", buf, 12, path);
    CHECK_INT(n, 10);
    CHECK(memcmp(buf, "Settings\0E\0\0", 12) == 0);
    /* An item that fills the buffer up to the list's last byte: the next one cannot fit, and
     * nothing is written past nSize. */
    memset(buf, 'Z', sizeof buf);
    n = GetPrivateProfileString(NULL, NULL, "", buf, 10, path);
    CHECK_INT(n, 8);
    CHECK(memcmp(buf, "Settings\0\0Z", 11) == 0);
    memset(buf, 'Z', sizeof buf);
    n = GetPrivateProfileSection("Settings", buf, 24, path);
    CHECK_INT(n, 22);
    CHECK(memcmp(buf, "Name = Hello World\0Quo\0\0Z", 25) == 0);
    memset(buf, 'Z', sizeof buf);
    n = GetPrivateProfileSection("Settings", buf, 20, path);
    CHECK_INT(n, 18);
    CHECK(memcmp(buf, "Name = Hello World\0\0Z", 21) == 0);
    n = GetPrivateProfileSection("other", buf, sizeof buf, path);
    CHECK_INT(n, 4);
    CHECK(memcmp(buf, "k=v\0\0", 5) == 0);
    n = GetPrivateProfileSection("Settings", buf, 8, path);
    CHECK_INT(n, 6);
    CHECK(memcmp(buf, "Name =\0\0", 8) == 0);
}

static void test_paths(void)
{
    char buf[64], backslashed[128];
    snprintf(backslashed, sizeof backslashed, "%s\\test.ini", dir);
    GetPrivateProfileString("Other", "k", "", buf, sizeof buf, backslashed);
    CHECK_STR(buf, "v");
    /* A relative name is looked up beside the calling module: here, the test program. */
    char exe[PATH_MAX], beside[PATH_MAX + 64], relative[32];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK(len > 0);
    if (len <= 0)
        return;
    exe[len] = '\0';
    *strrchr(exe, '/') = '\0';
    snprintf(relative, sizeof relative, "profile-%d.ini", (int)getpid());
    snprintf(beside, sizeof beside, "%s/%s", exe, relative);
    write_file(beside, "[a]\nb=beside\n");
    GetPrivateProfileString("a", "b", "", buf, sizeof buf, relative);
    CHECK_STR(buf, "beside");
    unlink(beside);
}

static char *slurp(const char *name)
{
    static char text[512];
    FILE *f = fopen(name, "rb");
    size_t n = f != NULL ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    text[n] = '\0';
    return text;
}

static void test_write(void)
{
    char name[128], buf[64];
    snprintf(name, sizeof name, "%s/written.ini", dir);
    write_file(name, "; keep me\n[A]\nx=1\ny=2\n\n[B]\nz=3");
    CHECK(WritePrivateProfileString("a", "X", "one", name));
    CHECK_STR(slurp(name), "; keep me\n[A]\nX=one\r\ny=2\n\n[B]\nz=3");
    CHECK(WritePrivateProfileString("A", "new", "v", name));
    CHECK_STR(slurp(name), "; keep me\n[A]\nX=one\r\ny=2\nnew=v\r\n\n[B]\nz=3");
    CHECK(WritePrivateProfileString("B", "w", "4", name));
    CHECK_STR(slurp(name), "; keep me\n[A]\nX=one\r\ny=2\nnew=v\r\n\n[B]\nz=3\r\nw=4\r\n");
    CHECK(WritePrivateProfileString("C", "k", "c", name));
    CHECK(WritePrivateProfileString("A", "y", NULL, name));
    CHECK(WritePrivateProfileString("B", NULL, NULL, name));
    CHECK_STR(slurp(name), "; keep me\n[A]\nX=one\r\nnew=v\r\n\n[C]\r\nk=c\r\n");
    GetPrivateProfileString("c", "K", "", buf, sizeof buf, name);
    CHECK_STR(buf, "c");
    CHECK(WritePrivateProfileString("Nope", NULL, NULL, name));
    CHECK(!WritePrivateProfileString(NULL, "k", "v", name));
    CHECK_INT(GetLastError(), ERROR_INVALID_PARAMETER);
    unlink(name);
    CHECK(WritePrivateProfileString("Fresh", "k", "v", name));
    CHECK_STR(slurp(name), "[Fresh]\r\nk=v\r\n");
    struct stat st;
    CHECK(stat(name, &st) == 0 && (st.st_mode & 0777) == 0644);
    unlink(name);
    SetLastError(0);
    CHECK(!WritePrivateProfileString("S", "k", "v", "/nonexistent/dir/x.ini"));
    CHECK_INT(GetLastError(), ERROR_FILE_NOT_FOUND);
}

int main(void)
{
    strcpy(dir, "/tmp/isapi-profile-XXXXXX");
    const char *tmp = getenv("TMPDIR");
    if (tmp != NULL && strlen(tmp) < 30)
        snprintf(dir, sizeof dir, "%s/isapi-profile-XXXXXX", tmp);
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/test.ini", dir);
    write_file(path, ini_text);
    test_values();
    test_defaults_and_truncation();
    test_lists();
    test_paths();
    test_write();
    unlink(path);
    rmdir(dir);
    return check_report("profile");
}
