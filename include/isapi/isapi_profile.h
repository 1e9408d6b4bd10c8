/* Part of the isapid SDK's windows.h: declarations of libisapi (docs/porting.md). */
#ifndef ISAPI_PROFILE_H
#define ISAPI_PROFILE_H

#endif
