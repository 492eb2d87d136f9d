#ifndef PERSONA_CNCURSESW_SHIM_H
#define PERSONA_CNCURSESW_SHIM_H

#include <locale.h>
#include <langinfo.h>
#include <sys/ioctl.h>

/* SwiftPM drops pkg-config's -D_XOPEN_SOURCE, so ask for the wide API explicitly. */
#define NCURSES_WIDECHAR 1
#include <curses.h>
#include <term.h>

/* Swift 6 rejects C globals as shared mutable state and cannot import these macros. */
static inline WINDOW *persona_stdscr(void) { return stdscr; }
static inline SCREEN *persona_newterm(int output_fd, int input_fd) {
    FILE *output = fdopen(output_fd, "w");
    FILE *input = fdopen(input_fd, "r");
    if (output == NULL || input == NULL) return NULL;
    return newterm(NULL, output, input);
}
static inline int persona_colors(void) { return COLORS; }
static inline int persona_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int persona_getmaxx(WINDOW *w) { return getmaxx(w); }

/* tiparm is variadic, which Swift cannot call. */
static inline const char *persona_tiparm1(const char *capability, int value) { return tiparm(capability, value); }
static inline const char *persona_tiparm2(const char *capability, int first, int second) {
    return tiparm(capability, first, second);
}

/* ioctl is variadic, which Swift cannot call. */
static inline int persona_terminal_size(int fd, int *rows, int *cols) {
    struct winsize size;
    if (ioctl(fd, TIOCGWINSZ, &size) != 0) return -1;
    *rows = size.ws_row;
    *cols = size.ws_col;
    return 0;
}

static inline const char *persona_codeset(void) { return nl_langinfo(CODESET); }

#endif
