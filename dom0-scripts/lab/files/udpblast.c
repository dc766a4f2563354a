/* udpblast IP PORT SECS [SIZE] [MAXCOUNT] - the lab's UDP flood: sends SIZE-byte
 * datagrams (default 1400) as fast as the socket takes them until SECS seconds
 * have passed or MAXCOUNT datagrams were sent (default 10 million), whichever
 * comes first, so it always stops by itself. Prints what it sent.
 * Built static into the guest image (busybox nc has no UDP mode). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

int main(int argc, char **argv)
{
	static char buf[65536];
	struct sockaddr_in to = { .sin_family = AF_INET };
	long size, secs, max, sent = 0;
	time_t end;
	int s;

	if (argc < 4) {
		fprintf(stderr, "usage: udpblast IP PORT SECS [SIZE] [MAXCOUNT]\n");
		return 2;
	}
	to.sin_port = htons(atoi(argv[2]));
	secs = atol(argv[3]);
	size = argc > 4 ? atol(argv[4]) : 1400;
	max = argc > 5 ? atol(argv[5]) : 10000000;
	if (inet_pton(AF_INET, argv[1], &to.sin_addr) != 1 || secs <= 0 || secs > 3600 ||
	    size < 1 || size > 65000 || max < 1) {
		fprintf(stderr, "udpblast: bad arguments\n");
		return 2;
	}
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s < 0) {
		perror("socket");
		return 1;
	}
	end = time(NULL) + secs;
	while (sent < max && time(NULL) < end)
		for (int i = 0; i < 64 && sent < max; i++)
			if (sendto(s, buf, size, 0, (struct sockaddr *)&to, sizeof(to)) > 0)
				sent++;
	printf("sent %ld datagrams of %ld bytes\n", sent, size);
	return 0;
}
