#define _XOPEN_SOURCE 600
#include "bench_pty.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

int bench_pty_open(int rows, int columns, int *controller, int *terminal) {
    int main_fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (main_fd < 0 || grantpt(main_fd) != 0 || unlockpt(main_fd) != 0) return -1;
    char *name = ptsname(main_fd);
    if (name == NULL) return -1;
    int side_fd = open(name, O_RDWR | O_NOCTTY);
    if (side_fd < 0) return -1;
    struct winsize size = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)columns };
    ioctl(side_fd, TIOCSWINSZ, &size);
    *controller = main_fd;
    *terminal = side_fd;
    return 0;
}
