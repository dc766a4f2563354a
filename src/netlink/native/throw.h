/* throw.c: throw an Error with code/errno/syscall (err 0: EINVAL, message `what`). */
#ifndef VIFQ_THROW_H
#define VIFQ_THROW_H
#include <node_api.h>

napi_value vifq_throw_errno(napi_env env, int err, const char *syscall, const char *what);
#endif
