/* Part of the isapid SDK's windows.h: declarations of libisapi (docs/porting.md). */
#ifndef ISAPI_WIN32_H
#define ISAPI_WIN32_H

#endif
