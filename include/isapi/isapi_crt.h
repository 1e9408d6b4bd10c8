/* Part of the isapid SDK's windows.h: declarations of libisapi (docs/porting.md). */
#ifndef ISAPI_CRT_H
#define ISAPI_CRT_H

#endif
