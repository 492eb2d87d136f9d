#ifndef PERSONA_BENCH_PTY_H
#define PERSONA_BENCH_PTY_H

/* Opens a pseudo-terminal of the given size for the UI benchmark. Returns 0 on success. */
int bench_pty_open(int rows, int columns, int *controller, int *terminal);

#endif
