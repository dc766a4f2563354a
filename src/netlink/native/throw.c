/*
 * throw.c: the addon's one way to throw a system error to JS, shared by nlsock.c
 * and sdnotify.c (its own file, so that neither depends on the other for it).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <node_api.h>
#include <uv.h>

#include "throw.h"

/*
 * Throw an Error with code/errno/syscall, as libuv names errors: "<syscall> failed:
 * <strerror>" (plus " (<what>)" when given). err 0 is an argument error: code EINVAL,
 * and the message is `what` alone.
 */
napi_value vifq_throw_errno(napi_env env, int err, const char *syscall, const char *what)
{
	char msg[256];
	napi_value error, code, message, errnov, sc;

	if (err && what)
		snprintf(msg, sizeof(msg), "%s failed: %s (%s)", syscall, strerror(err), what);
	else if (err)
		snprintf(msg, sizeof(msg), "%s failed: %s", syscall, strerror(err));
	else
		snprintf(msg, sizeof(msg), "%s", what ? what : "invalid argument");
	napi_create_string_utf8(env, err ? uv_err_name(-err) : "EINVAL", NAPI_AUTO_LENGTH, &code);
	napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message);
	napi_create_error(env, code, message, &error);
	napi_create_int32(env, err ? err : EINVAL, &errnov);
	napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
	napi_set_named_property(env, error, "errno", errnov);
	napi_set_named_property(env, error, "syscall", sc);
	napi_set_named_property(env, error, "code", code);
	napi_throw(env, error);
	return NULL;
}
