/* winsock2.h for ISAPI extensions built on Linux (isapid SDK). ISAPI extensions include it for
 * the socket types and byte-order helpers (htons, inet_addr...), rarely to open sockets of
 * their own. Here it brings the POSIX socket headers, which have the same BSD names, and the
 * Winsock names that differ: SOCKET, INVALID_SOCKET, SOCKET_ERROR, closesocket. WSAStartup and
 * WSACleanup succeed and do nothing (there is no Winsock library to initialise). Not provided:
 * WSAGetLastError's Winsock codes (errno holds the reason), overlapped Winsock I/O. */
#ifndef ISAPI_WINSOCK2_H
#define ISAPI_WINSOCK2_H

#include <windows.h>

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

typedef int SOCKET;
#define INVALID_SOCKET (-1)
#define SOCKET_ERROR (-1)
#define closesocket close
#define ioctlsocket ioctl

typedef struct WSAData {
    WORD wVersion;
    WORD wHighVersion;
    char szDescription[257];
    char szSystemStatus[129];
} WSADATA, *LPWSADATA;

static inline int WSAStartup(WORD version, LPWSADATA data)
{
    if (data) {
        memset(data, 0, sizeof *data);
        data->wVersion = data->wHighVersion = version;
    }
    return 0;
}

static inline int WSACleanup(void) { return 0; }

#endif
