/*
 * sdNotify(socketPath, message): one sd_notify(3) datagram, for vifqd's
 * readiness and watchdog (Type=notify, WatchdogSec=).
 *
 * Node has no AF_UNIX datagram sockets, and this addon is already the
 * project's one native module, so the few lines live here rather than in a
 * second addon or a dependency on libsystemd. Same protocol as libsystemd's
 * sd_notify(): a fresh AF_UNIX SOCK_DGRAM|SOCK_CLOEXEC socket per message,
 * sendmsg() to $NOTIFY_SOCKET, close. A leading '@' names an abstract socket
 * (the '@' becomes the NUL byte, and the address length excludes any
 * trailing NUL). The kernel attaches our credentials (SCM_CREDENTIALS) for
 * the receiver, which is how NotifyAccess=main checks the sender's pid.
 *
 * Unlike libsystemd it never blocks: MSG_DONTWAIT, so a full receive queue
 * at PID 1 throws EAGAIN instead of stalling Node's event loop (the caller
 * reports it and the next watchdog ping tries again).
 *
 * JS: sdNotify(path: string, message: string | Buffer) -> bytes sent;
 * throws an Error with code/errno/syscall like the socket's methods.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <node_api.h>
#include <uv.h>

#include "sdnotify.h"
#include "throw.h"

static napi_value js_sd_notify(napi_env env, napi_callback_info info)
{
	size_t argc = 2, plen = 0, mlen = 0;
	napi_value argv[2], ret;
	napi_valuetype t;
	bool is_buf = false;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 2];
	char *msg = NULL;
	void *bufdata = NULL;
	struct sockaddr_un sa;
	socklen_t salen;
	struct iovec iov;
	struct msghdr mh;
	ssize_t n;
	int fd, err;

	if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2)
		return vifq_throw_errno(env, 0, "sdNotify", "sdNotify(socketPath, message): two arguments expected");
	if (napi_typeof(env, argv[0], &t) != napi_ok || t != napi_string)
		return vifq_throw_errno(env, 0, "sdNotify", "sdNotify: socketPath must be a string");
	if (napi_get_value_string_utf8(env, argv[0], path, sizeof(path), &plen) != napi_ok)
		return vifq_throw_errno(env, 0, "sdNotify", "sdNotify: cannot read socketPath");
	if (plen < 2 || plen >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return vifq_throw_errno(env, 0, "sdNotify",
				"sdNotify: socketPath must be an absolute path or '@abstract', shorter than 108 bytes");

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@') {
		sa.sun_path[0] = '\0';
		salen = offsetof(struct sockaddr_un, sun_path) + plen;
	} else {
		salen = offsetof(struct sockaddr_un, sun_path) + plen + 1;
	}

	napi_is_buffer(env, argv[1], &is_buf);
	if (is_buf) {
		if (napi_get_buffer_info(env, argv[1], &bufdata, &mlen) != napi_ok)
			return vifq_throw_errno(env, 0, "sdNotify", "sdNotify: cannot read the message buffer");
	} else {
		if (napi_typeof(env, argv[1], &t) != napi_ok || t != napi_string)
			return vifq_throw_errno(env, 0, "sdNotify", "sdNotify: message must be a string or a Buffer");
		if (napi_get_value_string_utf8(env, argv[1], NULL, 0, &mlen) != napi_ok)
			return vifq_throw_errno(env, 0, "sdNotify", "sdNotify: cannot read the message");
		msg = malloc(mlen + 1);
		if (!msg)
			return vifq_throw_errno(env, ENOMEM, "malloc", "sdNotify message");
		napi_get_value_string_utf8(env, argv[1], msg, mlen + 1, &mlen);
		bufdata = msg;
	}
	if (mlen == 0) {
		free(msg);
		return vifq_throw_errno(env, 0, "sdNotify", "sdNotify: empty message");
	}

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		free(msg);
		return vifq_throw_errno(env, err, "socket", "AF_UNIX SOCK_DGRAM");
	}
	iov.iov_base = bufdata;
	iov.iov_len = mlen;
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &sa;
	mh.msg_namelen = salen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do {
		n = sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	err = errno;
	close(fd);
	free(msg);
	if (n < 0)
		return vifq_throw_errno(env, err, "sendmsg", path);
	napi_create_uint32(env, (uint32_t)n, &ret);
	return ret;
}

napi_value vifq_sdnotify_init(napi_env env, napi_value exports)
{
	napi_value fn;

	if (napi_create_function(env, "sdNotify", NAPI_AUTO_LENGTH, js_sd_notify, NULL, &fn) != napi_ok)
		return NULL;
	if (napi_set_named_property(env, exports, "sdNotify", fn) != napi_ok)
		return NULL;
	return exports;
}
