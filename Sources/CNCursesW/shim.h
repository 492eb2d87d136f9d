#ifndef PERSONA_CNCURSESW_SHIM_H
#define PERSONA_CNCURSESW_SHIM_H

/* SwiftPM drops pkg-config's -D_XOPEN_SOURCE, so ask for the wide API explicitly. */
#define NCURSES_WIDECHAR 1
#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <locale.h>
#include <curses.h>

/* Swift 6 rejects C globals as shared mutable state and cannot import these macros. */
static inline WINDOW *persona_stdscr(void) { return stdscr; }
static inline int persona_lines(void) { return LINES; }
static inline int persona_cols(void) { return COLS; }
static inline int persona_colors(void) { return COLORS; }
static inline int persona_color_pairs(void) { return COLOR_PAIRS; }
static inline attr_t persona_a_bold(void) { return A_BOLD; }
static inline attr_t persona_a_underline(void) { return A_UNDERLINE; }
static inline attr_t persona_a_reverse(void) { return A_REVERSE; }
static inline attr_t persona_a_dim(void) { return A_DIM; }
static inline attr_t persona_a_italic(void) { return A_ITALIC; }
static inline attr_t persona_color_pair(int n) { return COLOR_PAIR(n); }
static inline int persona_getmaxy(WINDOW *w) { return getmaxy(w); }
static inline int persona_getmaxx(WINDOW *w) { return getmaxx(w); }
static inline int persona_key_resize(void) { return KEY_RESIZE; }
static inline int persona_key_code_yes(void) { return KEY_CODE_YES; }

#endif
