/* Test harness only: wine 8 has no bcryptprimitives.dll, whose ProcessPrng Rust's std (1.78
 * and later) imports on Windows. Real Windows 10 and 11 have it; nothing shipped needs this.
 * Forwards to RtlGenRandom (advapi32's SystemFunction036), the same system generator. */
#include <windows.h>
BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);
BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    return SystemFunction036(data, (ULONG)length);
}
