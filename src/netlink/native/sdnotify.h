/* sdnotify.c: sdNotify(path, message), registered on the addon's exports by nlsock.c's init. */
#ifndef VIFQ_SDNOTIFY_H
#define VIFQ_SDNOTIFY_H
#include <node_api.h>

napi_value vifq_sdnotify_init(napi_env env, napi_value exports);
#endif
