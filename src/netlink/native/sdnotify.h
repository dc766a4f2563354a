/* sdnotify.c: sdNotify(path, message), registered on the addon's exports by nlsock.c's init. */
#ifndef VIFQ_SDNOTIFY_H
#define VIFQ_SDNOTIFY_H
#include <node_api.h>

napi_value vifq_sdnotify_init(napi_env env, napi_value exports);
/* nlsock.c: throw an Error with code/errno/syscall (err 0: EINVAL, message `what`). */
napi_value vifq_throw_errno(napi_env env, int err, const char *syscall, const char *what);
#endif
