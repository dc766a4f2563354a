/* xs-raw OP PATH [VALUE] - one raw xenstore request from a guest, printing the
 * reply exactly as xenstored sent it: "OK <payload>" or "ERROR <errno name>".
 * OP is read or write. The Debian xenstore-* tools print only "could not write
 * path"; the lab's permission tests need the error xenstored actually returned.
 * Speaks the wire protocol of xen/include/public/io/xs_wire.h on /dev/xen/xenbus.
 * Built static into the guest image. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct xsd_sockmsg {
	uint32_t type, req_id, tx_id, len;
};

enum { XS_READ = 2, XS_WRITE = 11, XS_ERROR = 16 };

int main(int argc, char **argv)
{
	char buf[4096 + sizeof(struct xsd_sockmsg)], reply[4096 + 1];
	struct xsd_sockmsg *h = (struct xsd_sockmsg *)buf, rh;
	size_t plen = 0, n;
	int fd, write_op;

	if (argc < 3 || (strcmp(argv[1], "read") && strcmp(argv[1], "write")) ||
	    (!strcmp(argv[1], "write") && argc < 4)) {
		fprintf(stderr, "usage: xs-raw read PATH | xs-raw write PATH VALUE\n");
		return 2;
	}
	write_op = !strcmp(argv[1], "write");
	n = strlen(argv[2]) + 1;
	if (n + (write_op ? strlen(argv[3]) : 0) > 4096) {
		fprintf(stderr, "xs-raw: request too long\n");
		return 2;
	}
	memcpy(buf + sizeof(*h), argv[2], n);
	plen = n;
	if (write_op) {
		memcpy(buf + sizeof(*h) + plen, argv[3], strlen(argv[3]));
		plen += strlen(argv[3]);
	}
	*h = (struct xsd_sockmsg){ write_op ? XS_WRITE : XS_READ, 1, 0, (uint32_t)plen };
	fd = open("/dev/xen/xenbus", O_RDWR);
	if (fd < 0) {
		perror("open /dev/xen/xenbus");
		return 1;
	}
	if (write(fd, buf, sizeof(*h) + plen) != (ssize_t)(sizeof(*h) + plen) ||
	    read(fd, &rh, sizeof(rh)) != sizeof(rh) || rh.len > 4096) {
		perror("xs-raw: xenbus");
		return 1;
	}
	n = 0;
	while (n < rh.len) {
		ssize_t r = read(fd, reply + n, rh.len - n);

		if (r <= 0) {
			perror("xs-raw: short reply");
			return 1;
		}
		n += r;
	}
	reply[n] = 0;
	if (rh.type == XS_ERROR) {
		printf("ERROR %s\n", reply);
		return 1;
	}
	printf("OK %s\n", reply);
	return 0;
}
