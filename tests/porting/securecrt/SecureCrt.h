// SecureCrt.h : shared declarations of the SecureCrt ISAPI sample.
#pragma once

#define PAGE_SIZE       2048
#define MAX_BANNER      48
#define MAX_QUERY       128

typedef struct _REQUEST_INFO
{
    CHAR  szMethod[16];
    CHAR  szQuery[MAX_QUERY];
    CHAR  szBanner[MAX_BANNER];
    DWORD dwQueryResult;
} REQUEST_INFO, *PREQUEST_INFO;

// PageUtil.c
void AppendLine(LPSTR pszPage, DWORD cchPage, LPCSTR pszName, LPCSTR pszValue);
