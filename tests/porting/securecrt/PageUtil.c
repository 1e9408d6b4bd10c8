// PageUtil.c : page building helpers of the SecureCrt sample.
//
// This file receives the page as a bare pointer and its size as a parameter, so when it is
// compiled the destination's real size is not visible: the size the caller passes is the
// bound, exactly as with the Microsoft CRT.

#include <windows.h>
#include <stdio.h>
#include "SecureCrt.h"

void AppendLine(LPSTR pszPage, DWORD cchPage, LPCSTR pszName, LPCSTR pszValue)
{
    CHAR szLine[256];

    sprintf_s(szLine, sizeof(szLine), "%s: %s\r\n", pszName, pszValue);
    strcat_s(pszPage, cchPage, szLine);
}
