/*++

Module Name:

    stdafx.h

Abstract:

    Precompiled header of the MixedCase project: the SDK and the project's globals.
    Included as "StdAfx.h" and "stdafx.h".

--*/

#pragma once

#include <Windows.h>
#include <WinSock2.h>
#include <Process.h>
#include <HttpExt.h>

#include "globals.h"

#define EXTENSION_DESCRIPTION   "MixedCase ISAPI Sample 1.0"
